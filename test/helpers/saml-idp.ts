/**
 * A SAML 2.0 identity provider built in the tests: it builds Responses and signs
 * them (assertion and/or response) with test keys through xml-crypto, and can
 * mangle them for the attacks (unsigned, wrapped, signed twice, attacker key,
 * comments in NameID, ...). The keys below are throw-away test keys (self-signed,
 * generated for these tests; never used anywhere else).
 */
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { SignedXml } from 'xml-crypto';

export const TEST_KEYS = {
  idp: {
    key: `-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDCIOqAG3Xaq3x4
cL1DOcMPYgZUAIsTKxrA0CTbdJ9MJ7DHU7aZS3oWRYNdhSgshbhXNR5jJlRNB/9b
zZMek9/WmtrkxvxQmW+MNggM+9asTnmLFpVNQ+C06Y2Iyd9BPSRMY7vUqj4XrJqz
o6COfaCmGoqF02gse8ChkB7LvWzH4s2mEJCWIYJ9rvpUD9qnot/Mmju0UpXnr93O
FqIAu43dJDtjvIocKkXXJow1/cbpavk1PEOV+IJysh1rg6zVdF/BS3L8ud0jAQ06
zHez5xj0XiKH/I+SNbjQbgZtOW6luRO7pOLVY0yu3XZU6Q1HKYeyDa1hdeLQQgyV
y9t+MCZFAgMBAAECggEAA1/6aEObGCHDg/3yVqx/5v6h6xpfB3RadVuJAsmzd45l
8rt3DrYy2YVFtnSUrLfDRphHmgis6YPslBQSpA5ggQ4eks5XFnkOsi8dbpKjsSUI
+TFpYzdGhk6lbqAlix4GEpkM/iAj2BEXoNqXLFeRxw8zNSsdFE8vUn+7bMHFg7oR
/Hlpmi5V/f8TzJ6CWYrzJXuCqGfwOyXat5c9SUQ6WlwW7d3RsUf5ouuUyQxRNmeN
WgkVgBqTN6O0UD4dlky2oQ3DoVfbjY59JI9HM1HIMzWSs43t4KU4AQEMnYJKctSP
VtGn9JOfVJMvfbJGnhnxRf5B89zSEA3XAGgGlxLqdwKBgQDv97v6+cXWt5zL6Bhm
/SSVAWlkZEu6z7YW9YhBjDvW/YOjKoo7fwJj4jjgPKNO7E654CqY5nggfU4uUNKq
TASpkqx+ZVRR5Y4ox+rzbCGZfEYS/nEtLHuyBjfZ8/pRfLAJ5lM/oZMiGYQqzryI
2NsBgdk73Z4MdCtSNW1Ff4sxCwKBgQDPGS0ia8qMOgbM3OpYvWmDn3hCpu1nNyfy
yObmQWlIa22nZlXLZ9W+3V4U/JacSkuhkMUvObMnebN78o1rRtAiiLqRGDnVU32u
RZ/Ax595HZh9cgDMmAkAwOQiwDRzZbL+MViGcCwuU5+8aITxGF24ANY7JUSu9INu
tqz4g5w37wKBgBST9fbLvH9xN2z09kK+qohsmpEVWLkoXsERRSH52JfTHZq8ZyY6
+gV+vMnd6VM3SHkAFCcQfHSsyiuGmsonwq6X+VrNbbGoMcyleCxvtWHoGko+r43k
JqdZiSiTl3+tZZszuSfXvzpJXeAd4mUJ054JeIt9sbP3sk9WbYxsJ4+JAoGBAIkJ
mcobFY4wn2tUC2XpADbugP9pwdH4t2B5/AAE7IvVOlv45XCRJukDRkwQ0ABfUSh5
yWD0h03pxBCScW25D+SqIPn909cLRjDZNVq1PRtBsDPiChFX0S1EdjFgidSKSSTW
tkNPWozVHO/pIX7/ppQpSZkdkhNLDOVnz5EqVWbVAoGBAKPqoFHdRp4490D9ndzW
GLinM1D6igO6EELBWSc78Di7Fof54R2jO51re2drA7SlJqjzLr64icHMfVuOj+SF
rwM+QpLqlmaQMRMO+HuxM8jUVAIls7BA5SvPMgz2OyKE/hdwKdKWNyi8BxLQ9y/j
MGZmkXSt+SvQZEMHLgEuZGCW
-----END PRIVATE KEY-----`,
    cert: `-----BEGIN CERTIFICATE-----
MIIDGTCCAgGgAwIBAgIUXPZSrC72jx2VAAUoeo+4GBCu0Z8wDQYJKoZIhvcNAQEL
BQAwGzEZMBcGA1UEAwwQY29saWJyaS10ZXN0LWlkcDAgFw0yNjExMjcwNDE5NDRa
GA8yMTI2MTEwMzA0MTk0NFowGzEZMBcGA1UEAwwQY29saWJyaS10ZXN0LWlkcDCC
ASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAMIg6oAbddqrfHhwvUM5ww9i
BlQAixMrGsDQJNt0n0wnsMdTtplLehZFg12FKCyFuFc1HmMmVE0H/1vNkx6T39aa
2uTG/FCZb4w2CAz71qxOeYsWlU1D4LTpjYjJ30E9JExju9SqPhesmrOjoI59oKYa
ioXTaCx7wKGQHsu9bMfizaYQkJYhgn2u+lQP2qei38yaO7RSleev3c4WogC7jd0k
O2O8ihwqRdcmjDX9xulq+TU8Q5X4gnKyHWuDrNV0X8FLcvy53SMBDTrMd7PnGPRe
Iof8j5I1uNBuBm05bqW5E7uk4tVjTK7ddlTpDUcph7INrWF14tBCDJXL234wJkUC
AwEAAaNTMFEwHQYDVR0OBBYEFFJ9o71Mj0tya+Z9uPXkxwLLI0veMB8GA1UdIwQY
MBaAFFJ9o71Mj0tya+Z9uPXkxwLLI0veMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZI
hvcNAQELBQADggEBAAzUBbF0Zz26MsqJU6T9KaZPHkwXwDtUnAfKmpV9AJNDRnZd
l2mVdMVpYG4Zb5NjmT9Me0LtfciugRix980wTUTauA31+mWJof736rHVxFps0NVs
kZnqVwmCaK3OI8jtX7YqycZtuqKlcJAB56eW3j0RIZVbVc8ir5GA74xGwwKXEFSZ
WI7UiO64iV1tmIG9ssUHTQldn4TnWw1QUewpFoKs5/Y1V9zzNJpKnB09o8Y8O3bl
r+qDX5YnEsq6B8ULkLnXfnNEmxnZpG2hDgO3OC9b5PgvmZy9emHagukgcLLFq3qU
Hxk9PqviEh0u1oYC+KsV1LQDEdNZq3IVbAPw4fU=
-----END CERTIFICATE-----`,
  },
  idp2: {
    key: `-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCITfae3k0eYRms
cHgYTVS064oDB2nq2vL5tmSG6ooIqvXDUAqBpNilKRfvSZTzPGV5jex4437jg+bZ
kiBpYnvObqwAg27mP+h2W+O7dAjgmHgx/eJT40uA4AoZ3OgB/1taB56ngKEFiUGz
at8rSuIu1jTQaKzSV/aTppL69gghZGFLoOICxvEwd3eMgnqDHU7cBZOwrMvnli43
OzUYTf2Uj8lFK8M4reDVibbE8XahSudO5xdRUdfFhXs9jZIhwekaJmy8BBH6aKl+
dPFwVTtbE/UjzRLOCGkZ0zp1yg0yNaUjd67Pcl1J9BwoqZqKT18aQEwwUO0gW7uo
b/vKB9bxAgMBAAECggEAMIM7Iykw3n6l0huHivK/EtOAX/qcBpReBWWW2vQQI+yh
Ix5SVvkyiHobRDX2tynIXh6WyyIBL/3qxIY/VfLQ6NS4EEi3SGj3lmS3JakzXai2
ouhfTQcpgNl8jt7yjn9x5pWusKRV6zACe9auTmzNGulvi7utwwG+x6dySbMWird3
8WLJxC/crE1yiNBhWCh+tSsKaWT2QzyKYlHDNuacc1W46Wrwpc6pqrtbsDO9+dEa
5hmfhVMAurtWir+bumZ3Kv1n31SEU6U/MVBPVu1TIymZIpvr8qo6A5XNGr5h+ZJD
51GqUa7nubf2oUAASmRa5s0cW0WvudJ7P6fsZSQPZwKBgQC+Qay4eOgXTu1eu3kC
1tufFOG+N4760U9A89RaQzhuK3dwHoyEpgmyXKkVcG0REid3YKu9hNEjFVNBXrh6
uIF+HBE+jYui7u58XOSHTPorGacKLiB09VbI+MegSm70pSaj6YHDFBXd8PcRtmsG
E23F12B8pZFRcOpgzf/SHU66BwKBgQC3Z6EZ1sQn2hYFO+yu+d5t3twmKElBKD7X
ogRBB+PSlvxTeaaA9WRZviK5I9Z7rcexoudmm3zWJLDXylcXiCIrdqvFfMHT/2SR
bTAn21c4tFlJGhbOQFGm03Kj1oNLm5TfvvNn8FuQySQbvwZgPY/m9puqHNZ1VpM0
9GdC7BgJRwKBgDglEV9u7q7SL+Jg2Jkp5q3Pb76+jocd9ZFpYyUv6Rs54IlJupX6
man1BkC5aLY88UCdWpEW/NCpnmQQG8i7YhthFQWsp6RxdhdlIlt7L+hALbcnXZSm
QfIU2HRJAu1XP0vnwM9cwgc48PBdMMAeQ6q6oFKoWXX7KG9g2zmaRH1JAoGAHTgU
UXKG07aJ9ZGDdqj2R9jOiAG5EflgcagtN1MTd7R4RLBH15nAwA9rpsVP4WphOyqx
5QX2kINN7UMeNvCISRZh7Vef5a91jTmxB1iJf84zv1K5uWhD2eksBXAigMQrpq3c
R33iiKGS8Byx3llQeMJnMGXhwNXnI/OgE+hbN/cCgYAJIB2HdpgM0DznXLWBgfOe
AHfjvJqw72960twjPT1m62IAho+yQVlAk33PBBPF+/ZiDNg7rEcF1fQPektptKka
rhHF5AoT/VKGoxKcNO+ixrm0Y3MkHoX3h+7puMXYeNzdnhIIewERR+lTYb6mArEe
EegCBzpjR0OXMExbhBCddQ==
-----END PRIVATE KEY-----`,
    cert: `-----BEGIN CERTIFICATE-----
MIIDGzCCAgOgAwIBAgIUW1Vvu2X9t0HPpAffqe1/KRjzTQ8wDQYJKoZIhvcNAQEL
BQAwHDEaMBgGA1UEAwwRY29saWJyaS10ZXN0LWlkcDIwIBcNMjYxMTI3MDQxOTQ0
WhgPMjEyNjExMDMwNDE5NDRaMBwxGjAYBgNVBAMMEWNvbGlicmktdGVzdC1pZHAy
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAiE32nt5NHmEZrHB4GE1U
tOuKAwdp6try+bZkhuqKCKr1w1AKgaTYpSkX70mU8zxleY3seON+44Pm2ZIgaWJ7
zm6sAINu5j/odlvju3QI4Jh4Mf3iU+NLgOAKGdzoAf9bWgeep4ChBYlBs2rfK0ri
LtY00Gis0lf2k6aS+vYIIWRhS6DiAsbxMHd3jIJ6gx1O3AWTsKzL55YuNzs1GE39
lI/JRSvDOK3g1Ym2xPF2oUrnTucXUVHXxYV7PY2SIcHpGiZsvAQR+mipfnTxcFU7
WxP1I80SzghpGdM6dcoNMjWlI3euz3JdSfQcKKmaik9fGkBMMFDtIFu7qG/7ygfW
8QIDAQABo1MwUTAdBgNVHQ4EFgQULjXm8T8wGEFQY4Cxuf/5cKhVg+8wHwYDVR0j
BBgwFoAULjXm8T8wGEFQY4Cxuf/5cKhVg+8wDwYDVR0TAQH/BAUwAwEB/zANBgkq
hkiG9w0BAQsFAAOCAQEAUkPiJTXlEHTFY4zL8fQGIZ/TEU0dBmqmHmwP+OhzY7nc
OlugSyr/ldmOPeDDlyFQBjrHSaxy2LDBJxfSxf6PufVxMlNywdg6ym65OH3pjDdw
L8b+f7rXArrrsC0D/lidqUrQhp+ToXcOZISMQIPltZdmoNoBM0xdSaw0l9kQ4uWR
CPxopx8XWwGQK9XfTkUnVuhmeFu3YzxhTkOB/czRdcjq2jXvIvcj/ZbufK+/FOj8
0Y6XZsaG/H8cOThEUJ5SS0GIgu4C28+gjbvTd0NQ1oGczfFXwIxl5qdxyFQCYYjG
0rXPNRIszF8ijH02y9GqbbqMKuDF/BAu/QF3w1PSvw==
-----END CERTIFICATE-----`,
  },
  attacker: {
    key: `-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDmlyoy/zTcquZQ
/jpbNAqUvlKPTMSqrA78/kdAZo1/zh52R10VdtVIj9BkEwnSHkK7Kad98tF5TtgK
ZnQDhkpto/QRs3fU92pw4zkD7UmZdLHgHgpn1PtEZKzQHJ68vvgZ5yNbaVdjAHTm
c9UTRfO3oSPungrW55YmFvBt5oMmw+jSH/r3OnaZm8tzfQGE2Eg6GTEYAC+RMTHh
paanL/FWBa/bT0+M7mlIjmgWtbWzaVeay0XwQOaOTcpCQbk8CYLC1y3kGkmnBQmS
K4JCgNJEL8xuhCJP8xkroWsjql+/dcXmO0UDdR/3HCp/2y9thPUnVDge2FJ1qioQ
fSPstmFlAgMBAAECggEACADvtUjv6gfhiiak2mUOR/bqMTCiM+VYeNYPnY/hsfGy
03qrI7NV+FiLjGmvwdQMj2gE+QVsWWhP7d58AOJQo4kZD+M5kdILpwLwB++cyh+H
jAam6E83cHqJGAkiRl1fibCg5MudfaF2rUgQeYSITtOgRmhEaoyrxMMvkbT6UOZT
hf1ATWHBjKlHW+J17iLX1wCuU4mXhyevRhRuHCJyLrp6WXH0vGYAtEmsUyfg2X7o
5fNN9UV4NQHNEiYq5PzfADBTWA4tpIawep/IaP9h6VlWKJj6ohgLdulMRfdQHGSF
F4He7uJGvryAqkBFNyZYfH1nbyVqGOE+1MWcukUEwQKBgQD8CQlFaLnv1fgC7WYZ
XSU266baJadf/qUdY3BCMG5KRL2++QaII5deETdhbRcGSTOCYhwyaAgm5wS2/a5s
Ow7lHxDdL7pWukelZWOrhsoLphTkSK+z8Yt4ltBZE6AS2xXyaSsIg3mDQ5s43D2Y
IaYdcL3SdgZZ989KoesYaJ1EQQKBgQDqN8TU8LbyeWIAYaWZnphex4JPuDN/G1f0
OHeZzO1zgS8PlnuDmC+dfDpmbNNTOxVK7PpgMPu58deZI75CCrY/xlgM+BCkbvBt
c8q7m5Q8gVLA/cc87WxDUaEF/b4okyl/z+WeWlCQr6ZDD7Bx+GMeLoLS36waDThl
1KaG/EqEJQKBgQCfWac+90P4W7R/RVH0X2wUGVJZQs1caEhFGIX1k2FoG6ZMhG6Y
zMf7da8qLisMkmO64AUr6ZKd5hqZCDOrwntcahPjhTWvd/+slzo5TPOaAdvbqglN
ID8qc1AvwbTHtzVdGxlWPKorUCdn//gBo+S/YHTkCDNj1sZ9TXqy6BHnAQKBgQDb
mr6rCaf/YWBKC0RB7TngZCACrytZmkG1ctxxEHvzOMTvUKEumZrLhpcbQh5Cg7tL
LTb0yfi8N812gNT7ByAqW8ZjIpQ4GOzFMzR7AzzSHk+BNHGC5voDhJ3+CBQr5w+a
D0u0VeoEPy0c47EEq2gD/IgdQCsVoh+nGuOo3RThIQKBgFVm/NWrxwHRg7GnvwqF
nC2kGkrq+sjvn20bqLllVMRh6GHWNh3hIlPWxpJBfX39ka20NHyTQhDymRAcIYmx
0FnzBDEfErWunNuvb8X8NhbOp86MXRJlp4ZiU7GRoUyoqAidOuTE9/dqo847p2Dp
TIW4edMQDocpoA+9W3Haaac1
-----END PRIVATE KEY-----`,
    cert: `-----BEGIN CERTIFICATE-----
MIIDIzCCAgugAwIBAgIUDJi5IqkZ7r+oIQY5FlrMUcZKup8wDQYJKoZIhvcNAQEL
BQAwIDEeMBwGA1UEAwwVY29saWJyaS10ZXN0LWF0dGFja2VyMCAXDTI2MTEyNzA0
MTk0NVoYDzIxMjYxMTAzMDQxOTQ1WjAgMR4wHAYDVQQDDBVjb2xpYnJpLXRlc3Qt
YXR0YWNrZXIwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDmlyoy/zTc
quZQ/jpbNAqUvlKPTMSqrA78/kdAZo1/zh52R10VdtVIj9BkEwnSHkK7Kad98tF5
TtgKZnQDhkpto/QRs3fU92pw4zkD7UmZdLHgHgpn1PtEZKzQHJ68vvgZ5yNbaVdj
AHTmc9UTRfO3oSPungrW55YmFvBt5oMmw+jSH/r3OnaZm8tzfQGE2Eg6GTEYAC+R
MTHhpaanL/FWBa/bT0+M7mlIjmgWtbWzaVeay0XwQOaOTcpCQbk8CYLC1y3kGkmn
BQmSK4JCgNJEL8xuhCJP8xkroWsjql+/dcXmO0UDdR/3HCp/2y9thPUnVDge2FJ1
qioQfSPstmFlAgMBAAGjUzBRMB0GA1UdDgQWBBR3t0WSx+EHvuldVvIa2356JHYe
xTAfBgNVHSMEGDAWgBR3t0WSx+EHvuldVvIa2356JHYexTAPBgNVHRMBAf8EBTAD
AQH/MA0GCSqGSIb3DQEBCwUAA4IBAQDUSZNPq5sXo5KpXcsoRUuUWzov45egyJEK
6ra4Qqyt7xETH35tbb8PPVpBzFwpoPzm04hCD1KOu0oOhOqSgzla+/eFF7kV5/4a
BowQAcsCgfoMExjga8Vg7iBsQ4efOGGpm3OMZO9aY+1p4wszg0mvdHwkLaGCMKBI
qnr4Y5USYeD3DyBQuGViiOZvy6txcyvoGTCbX7lWTc2Q2gs7MJSkoFURuOukfKhb
34DPKlRk1XFTOFwAZtEvCLAqSYDaDfzT6O3FzX9irPnUY0tTMrLwUH8WC6RBLEhi
1V4qMwy5ZmI1KwXybzb4fdlp7BC4JlJvsW2bT1mRMQD66FVtyln1
-----END CERTIFICATE-----`,
  },
} as const;

export type KeyName = keyof typeof TEST_KEYS;

const NS_P = 'urn:oasis:names:tc:SAML:2.0:protocol';
const NS_A = 'urn:oasis:names:tc:SAML:2.0:assertion';

export interface ResponseOptions {
  acsUrl: string;
  audience: string;
  issuer: string;
  nameId: string;
  /** Raw XML placed inside NameID instead of the escaped nameId (comment injection). */
  nameIdXml?: string;
  inResponseTo?: string;
  attributes?: Record<string, string[]>;
  /** Seconds relative to now. */
  notBefore?: number;
  notOnOrAfter?: number;
  destination?: string;
  recipient?: string;
  assertionId?: string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function iso(offsetSeconds: number): string {
  return new Date(Date.now() + offsetSeconds * 1000).toISOString();
}

export function newId(): string {
  return `_${randomBytes(16).toString('hex')}`;
}

/** The assertion XML (unsigned). */
export function assertionXml(o: ResponseOptions): string {
  const irt = o.inResponseTo === undefined ? '' : ` InResponseTo="${esc(o.inResponseTo)}"`;
  const attrs = Object.entries(o.attributes ?? {})
    .map(([name, values]) => `<saml:Attribute Name="${esc(name)}">${values.map((v) => `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`)
    .join('');
  return (
    `<saml:Assertion xmlns:saml="${NS_A}" ID="${o.assertionId ?? newId()}" Version="2.0" IssueInstant="${iso(0)}">` +
    `<saml:Issuer>${esc(o.issuer)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.nameIdXml ?? esc(o.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${irt} NotOnOrAfter="${iso(o.notOnOrAfter ?? 300)}" Recipient="${esc(o.recipient ?? o.acsUrl)}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(o.notBefore ?? -30)}" NotOnOrAfter="${iso(o.notOnOrAfter ?? 300)}"><saml:AudienceRestriction><saml:Audience>${esc(o.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${iso(0)}" SessionIndex="${newId()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    (attrs === '' ? '' : `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>`) +
    `</saml:Assertion>`
  );
}

/** A Response around `assertion` (XML string, signed or not). */
export function responseXml(o: ResponseOptions, assertion: string, extra = ''): string {
  const irt = o.inResponseTo === undefined ? '' : ` InResponseTo="${esc(o.inResponseTo)}"`;
  return (
    `<samlp:Response xmlns:samlp="${NS_P}" xmlns:saml="${NS_A}" ID="${newId()}" Version="2.0" IssueInstant="${iso(0)}" Destination="${esc(o.destination ?? o.acsUrl)}"${irt}>` +
    `<saml:Issuer>${esc(o.issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    extra +
    assertion +
    `</samlp:Response>`
  );
}

/** Sign the element selected by `xpath` (enveloped, exc-c14n, RSA-SHA256), signature after its Issuer. */
export function signElement(xml: string, xpath: string, key: KeyName): string {
  const sig = new SignedXml({
    privateKey: TEST_KEYS[key].key,
    publicCert: TEST_KEYS[key].cert,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath,
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

export const ASSERTION_XPATH = "//*[local-name(.)='Assertion']";
export const RESPONSE_XPATH = "/*[local-name(.)='Response']";

/** A response with a signed assertion (the usual shape). */
export function signedResponse(o: ResponseOptions, key: KeyName = 'idp', sign: 'assertion' | 'response' | 'both' | 'none' = 'assertion'): string {
  let assertion = assertionXml(o);
  if (sign === 'assertion' || sign === 'both') assertion = signElement(assertion, ASSERTION_XPATH, key);
  let xml = responseXml(o, assertion);
  if (sign === 'response' || sign === 'both') xml = signElement(xml, RESPONSE_XPATH, key);
  return xml;
}

/** The ID of the AuthnRequest in a redirect-binding URL. */
export function authnRequestId(location: string): string {
  const req = new URL(location).searchParams.get('SAMLRequest');
  if (req === null) throw new Error(`no SAMLRequest in ${location}`);
  const xml = inflateRawSync(Buffer.from(req, 'base64')).toString('utf8');
  const m = /\sID="([^"]+)"/.exec(xml);
  if (m === null) throw new Error('no ID in AuthnRequest');
  return m[1]!;
}

export function b64(xml: string): string {
  return Buffer.from(xml, 'utf8').toString('base64');
}
