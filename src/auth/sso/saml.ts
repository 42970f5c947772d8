/**
 * SAML 2.0 service provider for one tenant, on `@node-saml/node-saml`: SP
 * metadata, SP-initiated AuthnRequest (HTTP-Redirect binding), and the ACS
 * (HTTP-POST binding).
 *
 * node-saml checks the XML signature(s) against the configured IdP certificates
 * (several, for a rotation), works only on the signed XML (signature wrapping),
 * audience, NotBefore/NotOnOrAfter with the clock skew, and InResponseTo against
 * the AuthnRequests it issued (unless IdP-initiated login is enabled, then only
 * when present). Added here: the response must contain no XML comment or DOCTYPE
 * (comment injection into NameID and friends), `Destination` and the bearer
 * `Recipient` must be our ACS URL, and each assertion ID is accepted once
 * (replay cache in the state store's `revocations` collection).
 *
 * The InResponseTo cache is node-saml's in-memory one: with several instances,
 * the ACS must be served by the instance that sent the AuthnRequest (sticky
 * sessions) or IdP-initiated login enabled. Said in docs/auth.md.
 */
import { SAML, ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
import type { StateStore } from '../../state/store.js';
import type { SamlConfig } from './config.js';
import type { Claims } from './claims.js';
import { LoginError } from './oidc.js';
import { revoke, wasUsed } from './session.js';

const instances = new Map<string, { cfg: SamlConfig; saml: SAML }>();

/** The SP entity id of a tenant (the SAML audience). */
export function spEntityId(tenant: string, cfg: SamlConfig): string {
  return cfg.spEntityId ?? `urn:colibri:${tenant}`;
}

function instance(tenant: string, cfg: SamlConfig, acsUrl: string): SAML {
  const key = `${tenant} ${acsUrl}`;
  const hit = instances.get(key);
  if (hit !== undefined && hit.cfg === cfg) return hit.saml;
  const saml = new SAML({
    entryPoint: cfg.entryPoint,
    issuer: spEntityId(tenant, cfg),
    audience: spEntityId(tenant, cfg),
    callbackUrl: acsUrl,
    idpCert: cfg.idpCerts,
    idpIssuer: cfg.idpIssuer,
    wantAssertionsSigned: cfg.signed === 'assertion' || cfg.signed === 'both',
    wantAuthnResponseSigned: cfg.signed === 'response' || cfg.signed === 'both',
    validateInResponseTo: cfg.allowIdpInitiated ? ValidateInResponseTo.ifPresent : ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: 10 * 60 * 1000,
    acceptedClockSkewMs: cfg.clockSkewSeconds * 1000,
    disableRequestedAuthnContext: true,
    identifierFormat: null,
  });
  instances.set(key, { cfg, saml });
  return saml;
}

/** SP metadata XML (entity id, ACS URL, NameID formats). */
export function metadata(tenant: string, cfg: SamlConfig, acsUrl: string): string {
  return instance(tenant, cfg, acsUrl).generateServiceProviderMetadata(null, null);
}

/** The IdP URL carrying a new AuthnRequest; `relayState` comes back to the ACS. */
export async function startSamlLogin(tenant: string, cfg: SamlConfig, acsUrl: string, relayState: string): Promise<string> {
  return instance(tenant, cfg, acsUrl).getAuthorizeUrlAsync(relayState, undefined, {});
}

/** In-process guard so that two concurrent posts of one assertion cannot both pass. */
const pending = new Set<string>();

/** Validate a posted SAMLResponse; the claims of the login, or LoginError. */
export async function finishSamlLogin(store: StateStore, tenant: string, cfg: SamlConfig, acsUrl: string, samlResponse: string): Promise<Claims> {
  if (samlResponse.length > 1024 * 1024) throw new LoginError('SAML login failed: response too large', 400);
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (xml.includes('<!--')) throw new LoginError('SAML login failed: the response contains XML comments (refused: comment injection)');
  if (/<!DOCTYPE/i.test(xml)) throw new LoginError('SAML login failed: the response contains a DOCTYPE');
  let profile: Profile | null;
  try {
    ({ profile } = await instance(tenant, cfg, acsUrl).validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    throw new LoginError(`SAML login failed: ${(err as Error).message.slice(0, 300)}`);
  }
  if (profile === null) throw new LoginError('SAML login failed: no assertion');
  // Destination of the Response (signed when the response is signed; always must match when present).
  const dest = /^(?:<\?xml[^>]*\?>)?\s*<(?:[A-Za-z_][\w.-]*:)?Response\b[^>]*?\sDestination="([^"]*)"/.exec(xml);
  if (dest !== null && dest[1] !== acsUrl) throw new LoginError('SAML login failed: Destination is not this service provider\'s ACS URL');
  const assertion = profile.getAssertion?.() as AssertionObject | undefined;
  const root = assertion?.Assertion;
  const id = root?.$?.ID;
  if (typeof id !== 'string' || id === '') throw new LoginError('SAML login failed: assertion without ID');
  const confirmations = root?.Subject?.[0]?.SubjectConfirmation ?? [];
  const bearer = confirmations.filter((c) => c.$?.Method === 'urn:oasis:names:tc:SAML:2.0:cm:bearer');
  if (bearer.length === 0) throw new LoginError('SAML login failed: no bearer SubjectConfirmation');
  const recipientOk = bearer.some((c) => c.SubjectConfirmationData?.[0]?.$?.Recipient === acsUrl);
  if (!recipientOk) throw new LoginError('SAML login failed: Recipient is not this service provider\'s ACS URL');
  // Replay: one use per assertion ID, remembered until the assertion expires.
  const replayId = `saml:${tenant}:${id}`;
  if (pending.has(replayId) || wasUsed(store, replayId)) throw new LoginError('SAML login failed: this assertion was already used (replay)');
  pending.add(replayId);
  try {
    const notOnOrAfter = bearer[0]?.SubjectConfirmationData?.[0]?.$?.NotOnOrAfter ?? root?.Conditions?.[0]?.$?.NotOnOrAfter;
    const until = notOnOrAfter === undefined ? Date.now() / 1000 + 3600 : Date.parse(notOnOrAfter) / 1000 + cfg.clockSkewSeconds;
    await revoke(store, [replayId], Math.ceil(Number.isFinite(until) ? until : Date.now() / 1000 + 3600));
  } finally {
    pending.delete(replayId);
  }
  return profileClaims(profile, cfg);
}

interface AssertionObject {
  Assertion?: {
    $?: { ID?: string };
    Subject?: Array<{ SubjectConfirmation?: Array<{ $?: { Method?: string }; SubjectConfirmationData?: Array<{ $?: { Recipient?: string; NotOnOrAfter?: string } }> }> }>;
    Conditions?: Array<{ $?: { NotOnOrAfter?: string } }>;
  };
}

/** Claims from a profile: `sub` = NameID, attributes by name, `email` found or mapped. */
function profileClaims(profile: Profile, cfg: SamlConfig): Claims {
  const claims: Claims = {};
  for (const [k, v] of Object.entries(profile)) {
    if (typeof v === 'function' || k === 'getAssertion' || k === 'attributes') continue;
    claims[k] = v;
  }
  claims.sub = profile.nameID;
  const pick = (v: unknown): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);
  const email = cfg.emailAttribute !== undefined ? pick(profile[cfg.emailAttribute]) : pick(profile.email) ?? pick(profile.mail) ?? pick(profile['urn:oid:0.9.2342.19200300.100.1.3']);
  if (email !== undefined) claims.email = email;
  else if (/^[^@\s]+@[^@\s]+$/.test(profile.nameID)) claims.email = profile.nameID;
  return claims;
}
