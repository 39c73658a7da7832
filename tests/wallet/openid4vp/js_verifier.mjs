// An independent verifier for our wallet to present to (issue 22 item 4, second half), built on
// npm code we did not write: @openid4vc/openid4vp 0.4.6 (OpenWallet Foundation oid4vc-ts, its
// Openid4vpVerifier) makes the signed authorization request (JAR, client_id prefix x509_hash —
// the library hashes the x5c leaf itself —, x5c header, direct_post or direct_post.jwt), and
// parses and validates the wallet's response against it (state, JARM decryption, the DCQL
// vp_token shape);
// @sd-jwt/sd-jwt-vc 0.19 (OpenWallet Foundation sd-jwt-js) verifies each SD-JWT VC presentation:
// issuer signature with the configured issuer JWK (or the x5c leaf's key), disclosures
// (digests), the status list entry (it fetches the issuer's Token Status List), the KB-JWT's typ,
// signature by cnf.jwk, nonce and sd_hash.
//
// Ours, in this file (the libraries leave them to the caller; see "ours:" below): the ES256 and
// SHA-256 calls behind oid4vc-ts's sign/hash callbacks (Node's crypto; sd-jwt-js gets its ES256
// and SHA-256 from @sd-jwt/crypto-nodejs, also npm), the ECDH-ES + AES-GCM decryption of a
// direct_post.jwt response (Concat KDF over Node's crypto; the library picks the key by kid and
// parses the plaintext), the KB-JWT's aud == our client_id and iat freshness, the SD-JWT's typ
// dc+sd-jwt, every disclosure referenced by a digest, the vp_token values being arrays
// (OpenID4VP 1.0 §8.1), the DCQL match (vct in vct_values, every claim path disclosed, values),
// and single use.
//
// usage: node js_verifier.mjs <node_modules> [config.json]      (no file: the config on stdin)
// config: {"keyPem": "<PKCS#8 PEM of the verifier's P-256 key>", "x5c": ["<base64 DER leaf>"],
//          "issuerJwks": [{kty, crv, x, y, kid?}], "dcqlQuery": {…}, "responseMode":
//          "direct_post" | "direct_post.jwt", "clientName": "…", "host": "127.0.0.1", "port": 0}
//   or, instead of "issuerJwks", "trustAnchors": ["<PEM CA certificate>", …]: no issuer key is
//   given; each issuer-signed JWT (the credential, the status list token) must carry an x5c
//   chain (HAIP 1.0 §6.1.1) that reaches one of the anchors, whose leaf names the JWT's iss as a
//   URI SAN, and is checked with the leaf's key (ours: the chain check, over Node's
//   crypto.X509Certificate; see x5cLeaf).
// stdout, one JSON object a line:
//   {"ready": {"link": "openid4vp://…", "requestId", "requestUri", "responseUri", "clientId",
//              "nonce", "state", "responseMode"}}            (at start, and for POST /requests)
//   {"verdict": {"requestId", "ok": true, "credentials": {queryId: {"vct", "disclosed": {…},
//                "kb": {…}, "issuerKid", "issuerCertificate" (the x5c leaf's subject, with
//                trustAnchors; else null)}}, "body": {the form received}}}
//   {"error": {"requestId", "message", "body"}}    {"declined": {"requestId", "error", "body"}}
// HTTP: GET /requests/{id}/request (the JAR, while unanswered), POST /requests/{id}/response
// (200 {} or 400 {"error", "error_description"}), POST /requests {dcqlQuery?, responseMode?,
// serveOnce?} (a new request with the same key; answers the "ready" object; serveOnce: its
// request object is served once, as verifiers that mark a request "retrieved" do).
import {readFileSync} from 'node:fs';
import {createServer} from 'node:http';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {
  X509Certificate, createDecipheriv, createHash, createPrivateKey, createPublicKey,
  diffieHellman, generateKeyPairSync, randomBytes, sign,
} from 'node:crypto';

const [modules, configPath] = process.argv.slice(2);
const load = p => import(pathToFileURL(join(modules, p)).href);
const {Openid4vpVerifier, calculateX509HashClientIdPrefixValue} =
  await load('@openid4vc/openid4vp/dist/index.mjs');
const {setGlobalConfig} = await load('@openid4vc/utils/dist/index.mjs');
setGlobalConfig({allowInsecureUrls: true}); // the test serves http://127.0.0.1
const {SDJwtVcInstance} = await load('@sd-jwt/sd-jwt-vc/dist/index.mjs');
const {ES256, digest} = await load('@sd-jwt/crypto-nodejs/dist/index.mjs');

const config = JSON.parse(readFileSync(configPath ?? 0, 'utf8'));
const emit = event => process.stdout.write(JSON.stringify(event) + '\n');
const b64u = s => Buffer.from(s, 'base64url');
const KB_MAX_AGE = 300; // seconds; ours: the library checks the KB-JWT's nonce, not its age

// --- the verifier's key and certificate ---------------------------------------------------
const signingKey = createPrivateKey(config.keyPem);
const leaf = new X509Certificate(Buffer.from(config.x5c[0], 'base64'));
if (!leaf.checkPrivateKey(signingKey)) throw new Error('keyPem is not the x5c leaf\'s key');
const signerJwk = leaf.publicKey.export({format: 'jwk'});

// ours: the arithmetic behind the library's callbacks (ES256 and SHA-256 over Node's crypto)
const callbacks = {
  hash: (data, alg) => new Uint8Array(createHash(alg.replace('-', '').toLowerCase())
    .update(data).digest()),
  signJwt: (signer, {header, payload}) => {
    if (signer.method !== 'x5c' || signer.alg !== 'ES256') throw new Error('ES256 x5c only');
    const input = `${enc(header)}.${enc(payload)}`;
    const sig = sign('sha256', Buffer.from(input), {key: signingKey, dsaEncoding: 'ieee-p1363'});
    return {jwt: `${input}.${sig.toString('base64url')}`, signerJwk};
  },
  verifyJwt: () => ({verified: false}), // an encrypted-only response has no JWS to check
  encryptJwe: () => { throw new Error('no encryption'); },
  decryptJwe,
  fetch: (...a) => fetch(...a),
};
const enc = o => Buffer.from(JSON.stringify(o)).toString('base64url');
const verifier = new Openid4vpVerifier({callbacks});
const clientId = 'x509_hash:' + await calculateX509HashClientIdPrefixValue({
  x509Certificate: config.x5c[0], hash: callbacks.hash,
});

// ours: ECDH-ES (direct key agreement, RFC 7518 §4.6) + AES-GCM decryption. The library chose the
// key from client_metadata.jwks by the JWE's kid and passes its public JWK; we find our private
// half, do the arithmetic, and hand the plaintext back for the library to parse and validate.
const encKeys = new Map(); // kid -> private KeyObject
function decryptJwe(jwe, options) {
  const [h, ek, iv, ct, tag] = jwe.split('.');
  const header = JSON.parse(b64u(h).toString());
  const priv = encKeys.get(options?.jwk?.kid ?? header.kid);
  const bits = {A128GCM: 128, A256GCM: 256}[header.enc];
  if (!priv || header.alg !== 'ECDH-ES' || !bits || ek !== '' || !header.epk) {
    return {decrypted: false};
  }
  const z = diffieHellman({privateKey: priv,
    publicKey: createPublicKey({key: header.epk, format: 'jwk'})});
  const part = b => Buffer.concat([u32(b.length), b]);
  const other = Buffer.concat([part(Buffer.from(header.enc)),
    part(header.apu ? b64u(header.apu) : Buffer.alloc(0)),
    part(header.apv ? b64u(header.apv) : Buffer.alloc(0)), u32(bits)]);
  const cek = createHash('sha256').update(Buffer.concat([u32(1), z, other])).digest()
    .subarray(0, bits / 8);
  const decipher = createDecipheriv(`aes-${bits}-gcm`, cek, b64u(iv));
  decipher.setAAD(Buffer.from(h));
  decipher.setAuthTag(b64u(tag));
  try {
    const payload = Buffer.concat([decipher.update(b64u(ct)), decipher.final()]).toString();
    return {decrypted: true, decryptionJwk: options?.jwk, payload};
  } catch {
    return {decrypted: false};
  }
}
const u32 = n => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };

// --- requests ----------------------------------------------------------------------------------
const requests = new Map(); // id -> {payload, jwt, answered}
let base; // http://host:port, once listening

async function newRequest({dcqlQuery = config.dcqlQuery, responseMode = config.responseMode,
  serveOnce = false} = {}) {
  const id = randomBytes(9).toString('base64url');
  const requestUri = `${base}/requests/${id}/request`;
  const clientMetadata = {
    client_name: config.clientName ?? 'An independent verifier (oid4vc-ts)',
    vp_formats_supported: {'dc+sd-jwt': {'sd-jwt_alg_values': ['ES256'],
      'kb-jwt_alg_values': ['ES256']}},
  };
  if (responseMode === 'direct_post.jwt') {
    const kid = `enc-${id}`;
    const pair = generateKeyPairSync('ec', {namedCurve: 'P-256'});
    encKeys.set(kid, pair.privateKey);
    const {kty, crv, x, y} = pair.publicKey.export({format: 'jwk'});
    clientMetadata.jwks = {keys: [{kty, crv, x, y, use: 'enc', alg: 'ECDH-ES', kid}]};
    clientMetadata.encrypted_response_enc_values_supported = ['A128GCM', 'A256GCM'];
  }
  const made = await verifier.createOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: {
      response_type: 'vp_token', client_id: clientId, response_mode: responseMode,
      response_uri: `${base}/requests/${id}/response`,
      nonce: randomBytes(24).toString('base64url'), state: randomBytes(24).toString('base64url'),
      dcql_query: dcqlQuery, client_metadata: clientMetadata,
    },
    jar: {
      requestUri, expiresInSeconds: 600,
      jwtSigner: {method: 'x5c', alg: 'ES256', x5c: config.x5c},
      // OpenID4VP 1.0 §5.8: static discovery, the request's audience is the self-issued one
      additionalJwtPayload: {aud: 'https://self-issued.me/v2', iss: clientId},
    },
  });
  const payload = made.authorizationRequestPayload;
  requests.set(id, {payload, jwt: made.jar.authorizationRequestJwt, answered: false, serveOnce,
    fetched: false});
  const ready = {link: made.authorizationRequest, requestId: id, requestUri,
    responseUri: payload.response_uri, clientId, nonce: payload.nonce, state: payload.state,
    responseMode};
  emit({ready});
  return ready;
}

// --- the issuer's key from an x5c chain and trust anchors ------------------------------------
// ours: the certificate path check (RFC 5280 in its simplest form: no policies, names or
// revocation), each step done by Node's crypto.X509Certificate: every certificate within its
// validity, each one's issuer (checkIssued: names and key identifiers) the next one, a CA, whose
// key verifies its signature (verify), the last one issued and signed by a configured anchor
// (itself a CA within its validity); the leaf no CA. The signature is then checked with the
// leaf's key. x5c entries are standard base64 DER, leaf first (RFC 7515 §4.1.6).
const anchors = (config.trustAnchors ?? []).map(pem => new X509Certificate(pem));
const within = (c, now) => new Date(c.validFrom) <= now && now <= new Date(c.validTo);

function x5cLeaf(header) {
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length < 1 || x5c.length > 10) {
    throw new Error('x5c: the JWT has no certificate chain (x5c) and no issuer key is configured');
  }
  const certs = x5c.map((b, i) => {
    try { return new X509Certificate(Buffer.from(b, 'base64')); }
    catch { throw new Error(`x5c: entry ${i} is not a DER certificate`); }
  });
  const now = new Date();
  for (const [i, cert] of certs.entries()) {
    if (!within(cert, now)) throw new Error(`x5c: certificate ${i} is not valid now`);
    const issuer = certs[i + 1];
    if (issuer && !(issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey))) {
      throw new Error(`x5c: certificate ${i} is not issued by certificate ${i + 1}`);
    }
  }
  if (certs[0].ca) throw new Error('x5c: the leaf is a CA certificate');
  const last = certs.at(-1);
  const anchor = anchors.find(a => a.ca && within(a, now) && last.checkIssued(a)
    && last.verify(a.publicKey));
  if (!anchor) throw new Error('x5c: the certificate chain does not reach a trust anchor');
  return certs[0];
}

// --- a response --------------------------------------------------------------------------------
const vcVerifier = new SDJwtVcInstance({
  hasher: (d, a) => digest(d, a),
  // the configured issuer key that the JWS's kid names (a key configured without a kid: any),
  // or with trustAnchors the key of the x5c leaf once its chain reached an anchor (ours, above);
  // for the credential and for the status list token
  verifier: async (data, sig) => {
    const header = JSON.parse(b64u(data.split('.')[0]).toString());
    if (config.trustAnchors) {
      const leaf = x5cLeaf(header);
      // ours: the leaf names the issuer — its iss among the leaf's URI SANs (SD-JWT VC §3.5
      // asks this of an https iss; ours is a URN, named the same way)
      const {iss} = JSON.parse(b64u(data.split('.')[1]).toString());
      const sans = (leaf.subjectAltName ?? '').split(', ');
      if (typeof iss !== 'string' || !sans.includes(`URI:${iss}`)) {
        throw new Error(`x5c: the leaf certificate does not name the issuer ${iss} (URI SAN)`);
      }
      const jwk = leaf.publicKey.export({format: 'jwk'});
      return (await ES256.getVerifier(strip(jwk)))(data, sig);
    }
    const {kid} = header;
    for (const jwk of config.issuerJwks.filter(k => k.kid === undefined || k.kid === kid)) {
      if (await (await ES256.getVerifier(strip(jwk)))(data, sig)) return true;
    }
    return false;
  },
  // the KB-JWT: signed by the credential's cnf.jwk (the library hands us the disclosed payload)
  kbVerifier: async (data, sig, payload) => {
    const jwk = payload?.cnf?.jwk;
    if (!jwk) throw new Error('the credential has no cnf.jwk: no holder binding');
    return (await ES256.getVerifier(strip(jwk)))(data, sig);
  },
});
const strip = ({kty, crv, x, y}) => ({kty, crv, x, y});

async function answer(req, body) {
  if (req.answered) throw new Error('replayed: this request was answered already');
  if (body.error) { // the wallet declined (OpenID4VP 1.0 §8.5)
    if (body.state !== req.payload.state) throw new Error('state mismatch in the error response');
    req.answered = true;
    return {declined: {error: body.error, description: body.error_description ?? null}};
  }
  const parsed = await verifier.parseOpenid4vpAuthorizationResponse({
    authorizationResponse: body, authorizationRequestPayload: req.payload, callbacks,
  });
  if (parsed.type !== 'dcql') throw new Error(`not a DCQL response: ${parsed.type}`);
  const raw = parsed.authorizationResponsePayload.vp_token;
  const rawToken = typeof raw === 'string' ? JSON.parse(raw) : raw;
  const query = req.payload.dcql_query;
  const asked = new Set(query.credentials.map(c => c.id));
  const credentials = {};
  for (const id of Object.keys(parsed.dcql.presentations)) {
    if (!asked.has(id)) throw new Error(`vp_token has ${id}, a credential query not asked`);
    // ours: 1.0 final says each value is an array; the library accepts a bare string too
    if (!Array.isArray(rawToken[id])) throw new Error(`vp_token.${id} is not an array`);
  }
  for (const cq of query.credentials) {
    const presentations = parsed.dcql.presentations[cq.id];
    if (!presentations) throw new Error(`no presentation for credential query ${cq.id}`);
    if (presentations.length !== 1 && !cq.multiple) {
      throw new Error(`${presentations.length} presentations for ${cq.id} (multiple not asked)`);
    }
    credentials[cq.id] = await checkPresentation(cq, presentations[0], parsed.expectedNonce);
  }
  req.answered = true; // single use, once a response verified (a bad one cannot burn it)
  return {credentials};
}

async function checkPresentation(cq, presentation, nonce) {
  if (typeof presentation !== 'string') throw new Error(`${cq.id}: not a compact SD-JWT`);
  if (cq.format !== 'dc+sd-jwt') throw new Error(`${cq.id}: format ${cq.format}`);
  // the library: issuer signature, iat/exp/nbf, digests of the disclosures, status list entry,
  // KB-JWT typ kb+jwt, its signature by cnf.jwk, nonce == the request's, sd_hash
  const result = await vcVerifier.verify(presentation, {keyBindingNonce: nonce});
  const kb = result.kb?.payload;
  if (!kb) throw new Error(`${cq.id}: no key-binding JWT`);
  // ours: what the library leaves to the verifier
  if (kb.aud !== clientId) throw new Error(`${cq.id}: KB-JWT aud ${kb.aud}, not our client_id`);
  const now = Math.floor(Date.now() / 1000);
  if (!(kb.iat <= now + 60 && kb.iat >= now - KB_MAX_AGE)) {
    throw new Error(`${cq.id}: KB-JWT iat ${kb.iat} is not fresh`);
  }
  if (result.header?.typ !== 'dc+sd-jwt') throw new Error(`${cq.id}: typ ${result.header?.typ}`);
  const vcts = cq.meta?.vct_values;
  if (vcts && !vcts.includes(result.payload.vct)) {
    throw new Error(`${cq.id}: vct ${result.payload.vct} is not one asked`);
  }
  const decoded = await vcVerifier.decode(presentation);
  // ours: RFC 9901 §7.1 — every disclosure sent is referenced by a digest in the issuer-signed
  // payload or in another disclosure (sd-jwt-js ignores one that is not)
  const referenced = new Set();
  const collect = v => {
    if (Array.isArray(v)) v.forEach(x => x && typeof x === 'object' && '...' in x
      ? referenced.add(x['...']) : collect(x));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) k === '_sd' ? x.forEach(d => referenced.add(d))
        : collect(x);
    }
  };
  collect(decoded.jwt.payload);
  for (const d of decoded.disclosures ?? []) collect(d.value);
  const disclosed = {};
  for (const d of decoded.disclosures ?? []) {
    if (!referenced.has(d._digest)) throw new Error(`${cq.id}: a disclosure is not referenced`);
    if (d.key !== undefined) disclosed[d.key] = d.value;
  }
  const missing = [];
  for (const claim of cq.claims ?? []) {
    const values = select(result.payload, claim.path);
    if (!values.length || (claim.values && !values.some(v => claim.values.includes(v)))) {
      missing.push(claim.path);
    }
  }
  if (missing.length) {
    throw new Error(`${cq.id}: claims not disclosed: ${missing.map(p => p.join('.')).join(', ')}`);
  }
  return {vct: result.payload.vct, disclosed, kb,
    issuerKid: decoded.jwt?.header?.kid ?? null,
    issuerCertificate: config.trustAnchors ? x5cLeaf(decoded.jwt.header).subject : null};
}

// ours: DCQL claim path selection (OpenID4VP 1.0 §7): names, indices, null for every element
function select(value, path) {
  let current = [value];
  for (const step of path) {
    const next = [];
    for (const v of current) {
      if (step === null && Array.isArray(v)) next.push(...v);
      else if (typeof step === 'number' && Array.isArray(v) && step < v.length) next.push(v[step]);
      else if (typeof step === 'string' && v && typeof v === 'object' && !Array.isArray(v)
        && Object.hasOwn(v, step)) next.push(v[step]);
    }
    current = next;
  }
  return current;
}

// --- HTTP --------------------------------------------------------------------------------------
function reply(res, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {'content-type': type, 'cache-control': 'no-store'});
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 1 << 20) throw new Error('body too large');
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString();
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/json')) return JSON.parse(text || '{}');
  return Object.fromEntries(new URLSearchParams(text));
}

const server = createServer(async (httpReq, res) => {
  const url = new URL(httpReq.url, base);
  const m = url.pathname.match(/^\/requests\/([\w-]+)\/(request|response)$/);
  try {
    if (httpReq.method === 'POST' && url.pathname === '/requests') {
      return reply(res, 201, await newRequest(await readBody(httpReq)));
    }
    const req = m && requests.get(m[1]);
    if (!req) return reply(res, 404, {error: 'not_found'});
    if (m[2] === 'request' && httpReq.method === 'GET') {
      if (req.answered || (req.fetched && req.serveOnce)) {
        return reply(res, 410, {error: 'invalid_request',
          error_description: req.answered ? 'this request was answered already'
            : 'this request object was fetched already'});
      }
      req.fetched = true;
      return reply(res, 200, req.jwt, 'application/oauth-authz-req+jwt');
    }
    if (m[2] === 'response' && httpReq.method === 'POST') {
      let body = {};
      try {
        body = await readBody(httpReq);
        const out = await answer(req, body);
        if (out.declined) emit({declined: {requestId: m[1], ...out.declined, body}});
        else emit({verdict: {requestId: m[1], ok: true, credentials: out.credentials, body}});
        return reply(res, 200, {});
      } catch (e) {
        const message = String(e?.error_description ?? e?.message ?? e);
        emit({error: {requestId: m[1], message, body}});
        return reply(res, 400, {error: 'invalid_request', error_description: message});
      }
    }
    return reply(res, 405, {error: 'method_not_allowed'});
  } catch (e) {
    emit({error: {requestId: m?.[1] ?? null, message: String(e?.message ?? e)}});
    return reply(res, 500, {error: 'server_error'});
  }
});
server.listen(config.port ?? 0, config.host ?? '127.0.0.1', async () => {
  base = `http://${config.host ?? '127.0.0.1'}:${server.address().port}`;
  await newRequest();
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
