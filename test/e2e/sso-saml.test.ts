/**
 * SSO with SAML 2.0, end to end: the real Colibri server as SP, and an IdP built
 * in the test that signs responses with test keys (xml-crypto). Each attack on
 * the SP is posted to the real ACS and must be refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startColibri, removeDir, type Colibri } from '../helpers/colibri.js';
import { Browser, type Hop } from '../helpers/oidc-provider.js';
import {
  ASSERTION_XPATH, TEST_KEYS, assertionXml, authnRequestId, b64, newId, responseXml, signElement, signedResponse, type ResponseOptions,
} from '../helpers/saml-idp.js';

let colibri: Colibri;
const IDP = 'https://idp.test/acme';

before(async () => {
  colibri = await startColibri({
    config: {
      tenants: [
        {
          slug: 'acme',
          workspaces: ['default'],
          sso: {
            saml: { entryPoint: 'https://idp.test/sso', idpIssuer: IDP, idpCerts: [TEST_KEYS.idp.cert, TEST_KEYS.idp2.cert] },
            rules: [
              { name: 'analysts', when: { claim: 'groups', contains: 'analysts' }, grants: [{ workspace: 'default', scopes: ['PIPES:READ:sales'] }] },
              { name: 'admins', when: { claim: 'groups', contains: 'admins' }, grants: [{ workspace: '*', scopes: ['ADMIN'] }] },
            ],
          },
        },
        {
          slug: 'open',
          sso: {
            saml: { entryPoint: 'https://idp.test/sso', idpIssuer: IDP, idpCerts: [TEST_KEYS.idp.cert], allowIdpInitiated: true, signed: 'assertion' },
            rules: [{ when: { emailDomain: 'acme.com' }, grants: [{ workspace: 'default', scopes: ['PIPES:READ:sales'] }] }],
          },
        },
      ],
    },
  });
});

after(async () => {
  if (process.env.SSO_TEST_DEBUG === '1') process.stderr.write(colibri?.output().split('\n').filter((l) => l.includes('sso login failed')).join('\n') ?? '');
  await colibri?.stop();
  if (colibri !== undefined) removeDir(colibri.dataDir);
});

const acs = (t = 'acme'): string => `${colibri.url}/auth/${t}/saml/acs`;

/** Start an SP-initiated login: the AuthnRequest ID, the RelayState, and the browser. */
async function startLogin(t = 'acme'): Promise<{ id: string; relay: string; browser: Browser }> {
  const browser = new Browser();
  const hop = await browser.request('GET', `${colibri.url}/auth/${t}/login`);
  assert.equal(hop.status, 302);
  assert.ok(hop.location!.startsWith('https://idp.test/sso?'), hop.location);
  return { id: authnRequestId(hop.location!), relay: new URL(hop.location!).searchParams.get('RelayState')!, browser };
}

function opts(o: Partial<ResponseOptions> & { inResponseTo?: string }, t = 'acme'): ResponseOptions {
  return { acsUrl: acs(t), audience: `urn:colibri:${t}`, issuer: IDP, nameId: 'ana@acme.com', attributes: { groups: ['analysts'], email: ['ana@acme.com'] }, ...o };
}

async function post(browser: Browser, xml: string, relay?: string, t = 'acme'): Promise<Hop> {
  const f = new URLSearchParams({ SAMLResponse: b64(xml) });
  if (relay !== undefined) f.set('RelayState', relay);
  return browser.request('POST', acs(t), f);
}

async function me(browser: Browser): Promise<{ status: number; json: any }> {
  const hop = await browser.request('GET', `${colibri.url}/auth/me`);
  return { status: hop.status, json: hop.status === 200 ? JSON.parse(hop.text) : undefined };
}

function refused(hop: Hop, browser: Browser, what: string): void {
  assert.equal(hop.status, 401, `${what}: ${hop.status} ${hop.text.slice(0, 300)}`);
  assert.match(hop.text, /SAML login failed/);
  assert.equal(browser.cookie(colibri.url, 'colibri_session'), undefined, `${what}: no session`);
}

describe('SAML SP', () => {
  test('metadata names the entity id and the ACS', async () => {
    const r = await new Browser().request('GET', `${colibri.url}/auth/acme/saml/metadata`);
    assert.equal(r.status, 200);
    assert.match(r.text, /entityID="urn:colibri:acme"/);
    assert.ok(r.text.includes(`Location="${acs()}"`));
  });

  test('success: signed assertion, grants from attributes', async () => {
    const { id, relay, browser } = await startLogin();
    const hop = await post(browser, signedResponse(opts({ inResponseTo: id })), relay);
    assert.equal(hop.status, 303, hop.text);
    const m = await me(browser);
    assert.equal(m.json.subject, 'ana@acme.com');
    assert.equal(m.json.idp, 'saml');
    assert.deepEqual(m.json.grants, [{ workspace: 'default', scopes: ['PIPES:READ:sales'] }]);
  });

  test('success: signed response only; and the rotated (second) IdP certificate', async () => {
    const a = await startLogin();
    assert.equal((await post(a.browser, signedResponse(opts({ inResponseTo: a.id }), 'idp', 'response'), a.relay)).status, 303);
    const b = await startLogin();
    assert.equal((await post(b.browser, signedResponse(opts({ inResponseTo: b.id, attributes: { groups: ['admins'] } }), 'idp2'), b.relay)).status, 303);
    assert.deepEqual((await me(b.browser)).json.grants, [{ workspace: '*', scopes: ['ADMIN'] }]);
  });

  test('refused: unsigned', async () => {
    const { id, browser } = await startLogin();
    refused(await post(browser, signedResponse(opts({ inResponseTo: id }), 'idp', 'none')), browser, 'unsigned');
  });

  test('refused: signature wrapping (evil assertion, the signed one hidden in Extensions)', async () => {
    const { id, browser } = await startLogin();
    const good = signElement(assertionXml(opts({ inResponseTo: id })), ASSERTION_XPATH, 'idp');
    const goodId = /ID="([^"]+)"/.exec(good)![1]!;
    const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(good)![0];
    // The evil assertion reuses the signed one's ID and carries its signature.
    const evil = assertionXml(opts({ inResponseTo: id, nameId: 'boss@acme.com', attributes: { groups: ['admins'] }, assertionId: goodId }))
      .replace('</saml:Issuer>', `</saml:Issuer>${signature}`);
    const xml = responseXml(opts({ inResponseTo: id }), evil, `<samlp:Extensions>${good}</samlp:Extensions>`);
    refused(await post(browser, xml), browser, 'XSW extensions');
    // Variant: the signed assertion nested inside the evil one.
    const s2 = await startLogin();
    const good2 = signElement(assertionXml(opts({ inResponseTo: s2.id })), ASSERTION_XPATH, 'idp');
    const evil2 = assertionXml(opts({ inResponseTo: s2.id, nameId: 'boss@acme.com', attributes: { groups: ['admins'] } })).replace('</saml:Assertion>', `${good2}</saml:Assertion>`);
    refused(await post(s2.browser, responseXml(opts({ inResponseTo: s2.id }), evil2)), s2.browser, 'XSW nested');
  });

  test('refused: signed twice (a second signature on the assertion)', async () => {
    const { id, browser } = await startLogin();
    const once = signElement(assertionXml(opts({ inResponseTo: id })), ASSERTION_XPATH, 'idp');
    const twice = signElement(once, ASSERTION_XPATH, 'idp');
    refused(await post(browser, responseXml(opts({ inResponseTo: id }), twice)), browser, 'signed twice');
  });

  test('refused: attacker certificate', async () => {
    const { id, browser } = await startLogin();
    refused(await post(browser, signedResponse(opts({ inResponseTo: id }), 'attacker')), browser, 'attacker key');
  });

  test('refused: wrong audience, expired, not yet valid, wrong recipient, wrong destination', async () => {
    const cases: Array<[string, Partial<ResponseOptions>]> = [
      ['wrong audience', { audience: 'urn:colibri:other' }],
      ['expired', { notBefore: -900, notOnOrAfter: -300 }],
      ['not yet valid', { notBefore: 600, notOnOrAfter: 900 }],
      ['wrong recipient', { recipient: 'https://evil.example/acs' }],
      ['wrong destination', { destination: 'https://evil.example/acs' }],
    ];
    for (const [what, o] of cases) {
      const { id, browser } = await startLogin();
      refused(await post(browser, signedResponse(opts({ inResponseTo: id, ...o }), 'idp', 'both')), browser, what);
    }
  });

  test('refused: wrong InResponseTo, missing InResponseTo (IdP-initiated is off by default)', async () => {
    const { browser } = await startLogin();
    refused(await post(browser, signedResponse(opts({ inResponseTo: newId() }))), browser, 'unknown InResponseTo');
    refused(await post(browser, signedResponse(opts({}))), browser, 'unsolicited');
  });

  test('refused: replay of an accepted response (SP-initiated and IdP-initiated)', async () => {
    const { id, browser } = await startLogin();
    const xml = signedResponse(opts({ inResponseTo: id }));
    assert.equal((await post(browser, xml)).status, 303);
    const replay = new Browser();
    refused(await post(replay, xml), replay, 'SP-initiated replay');
    // IdP-initiated (allowed on 'open'): no InResponseTo, so only the assertion-ID cache stops a replay.
    const unsolicited = signedResponse(opts({}, 'open'));
    const first = new Browser();
    assert.equal((await post(first, unsolicited, undefined, 'open')).status, 303);
    const again = new Browser();
    const hop = await post(again, unsolicited, undefined, 'open');
    refused(hop, again, 'IdP-initiated replay');
    assert.match(hop.text, /already used/);
  });

  test('refused: comment injection in NameID', async () => {
    const { id, browser } = await startLogin();
    // The IdP signed "ana@acme.com.evil.io"; the comment makes naive parsers read "ana@acme.com".
    const xml = signedResponse(opts({ inResponseTo: id, nameId: 'x', nameIdXml: 'ana@acme.com<!---->.evil.io' }));
    refused(await post(browser, xml), browser, 'comment in NameID');
  });
});
