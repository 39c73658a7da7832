// A holder we did not write, from npm: @openid4vc/openid4vp (OpenWallet Foundation oid4vc-ts)
// parses our openid4vp:// link, fetches and verifies the signed request object (x509_hash client
// id: it hashes the x5c leaf itself and checks the JWS with the certificate's key), creates the
// authorization response and submits it by direct_post; the SD-JWT VC presentation inside it is
// made by @sd-jwt/sd-jwt-vc with the holder's key (KB-JWT with the request's nonce and client_id).
// For a direct_post.jwt request the library builds the encrypted response (it chooses the key from
// client_metadata.jwks, alg, enc, apu/apv); the ECDH-ES + AES-GCM arithmetic is ours, below.
// usage: node js_holder.mjs <node_modules> <input.json>
// input: {"authorizationRequest": "openid4vp://…", "credential": "<SD-JWT VC bound to the holder>",
//         "holderPrivateJwk": {…}, "nonce": "<override, to test a refusal>" (optional),
//         "queries": ["<credential query id>", …] (optional: the holder's choice of a
//         credential_sets option; default every query)}
// prints {"client": {prefix, identifier}, "dcql": …, "request": {…}, "status": n, "body": …}
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {
  X509Certificate, createCipheriv, createHash, createPublicKey, diffieHellman,
  generateKeyPairSync, randomBytes, webcrypto,
} from 'node:crypto';

const [modules, inputPath] = process.argv.slice(2);
const load = p => import(pathToFileURL(join(modules, p)).href);
const {Openid4vpClient} = await load('@openid4vc/openid4vp/dist/index.mjs');
const {setGlobalConfig} = await load('@openid4vc/utils/dist/index.mjs');
// the devnet node answers on http://127.0.0.1 (a deployment is behind https)
setGlobalConfig({allowInsecureUrls: true});
const {SDJwtVcInstance} = await load('@sd-jwt/sd-jwt-vc/dist/index.mjs');
const {ES256, digest, generateSalt} = await load('@sd-jwt/crypto-nodejs/dist/index.mjs');
const input = JSON.parse(readFileSync(inputPath, 'utf8'));

const b64u = s => Buffer.from(s, 'base64url');
const certJwk = x5c => new X509Certificate(Buffer.from(x5c, 'base64')).publicKey.export({format: 'jwk'});

async function verifyJwt(signer, jwt) {
  let jwk;
  if (signer.method === 'x5c') jwk = certJwk(signer.x5c[0]);
  else if (signer.method === 'jwk') jwk = signer.publicJwk;
  else return {verified: false};
  const key = await webcrypto.subtle.importKey(
    'jwk', jwk, {name: 'ECDSA', namedCurve: 'P-256'}, false, ['verify']);
  const [h, p, s] = jwt.compact.split('.');
  const ok = await webcrypto.subtle.verify(
    {name: 'ECDSA', hash: 'SHA-256'}, key, b64u(s), Buffer.from(`${h}.${p}`));
  return ok ? {verified: true, signerJwk: jwk} : {verified: false};
}

// ECDH-ES (direct key agreement, RFC 7518 4.6) with AES-GCM over Node's crypto: the library
// picks the key, alg, enc, apu and apv from the request; this only does the arithmetic
function encryptJwe(encryptor, data) {
  const {publicJwk, alg, enc, apu, apv} = encryptor;
  if (alg !== 'ECDH-ES') throw new Error(`alg ${alg}`);
  const bits = {A128GCM: 128, A256GCM: 256}[enc];
  const eph = generateKeyPairSync('ec', {namedCurve: 'P-256'});
  const peer = createPublicKey({key: publicJwk, format: 'jwk'});
  const z = diffieHellman({privateKey: eph.privateKey, publicKey: peer});
  const part = b => Buffer.concat([u32(b.length), b]);
  const other = Buffer.concat([part(Buffer.from(enc)), part(apu ? b64u(apu) : Buffer.alloc(0)),
    part(apv ? b64u(apv) : Buffer.alloc(0)), u32(bits)]);
  const cek = createHash('sha256').update(Buffer.concat([u32(1), z, other])).digest()
    .subarray(0, bits / 8);
  const {kty, crv, x, y} = eph.publicKey.export({format: 'jwk'});
  const header = {alg, enc, kid: publicJwk.kid, epk: {kty, crv, x, y},
    ...(apu ? {apu} : {}), ...(apv ? {apv} : {})};
  const h = Buffer.from(JSON.stringify(header)).toString('base64url');
  const iv = randomBytes(12);
  const cipher = createCipheriv(`aes-${bits}-gcm`, cek, iv);
  cipher.setAAD(Buffer.from(h));
  const ct = Buffer.concat([cipher.update(Buffer.from(data)), cipher.final()]);
  const tag = cipher.getAuthTag();
  const jwe = [h, '', iv.toString('base64url'), ct.toString('base64url'),
    tag.toString('base64url')].join('.');
  return {encryptionJwk: publicJwk, jwe};
}
const u32 = n => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };

const callbacks = {
  fetch: (...a) => fetch(...a),
  hash: (data, alg) => new Uint8Array(createHash(alg.replace('-', '')).update(data).digest()),
  verifyJwt,
  getX509CertificateMetadata: c => {
    const cert = new X509Certificate(Buffer.from(c, 'base64'));
    const san = cert.subjectAltName ?? '';
    return {
      sanDnsNames: san.split(', ').filter(x => x.startsWith('DNS:')).map(x => x.slice(4)),
      sanUriNames: san.split(', ').filter(x => x.startsWith('URI:')).map(x => x.slice(4)),
    };
  },
  signJwt: () => { throw new Error('no signing'); },
  encryptJwe,
  decryptJwe: () => { throw new Error('no decryption'); },
};
const client = new Openid4vpClient({callbacks});
const parsed = client.parseOpenid4vpAuthorizationRequest({authorizationRequest: input.authorizationRequest});
const resolved = await client.resolveOpenId4vpAuthorizationRequest({
  authorizationRequestPayload: parsed.params,
});
const request = resolved.authorizationRequestPayload;
const query = resolved.dcql.query;

const sdk = new SDJwtVcInstance({
  hasher: (d, a) => digest(d, a), saltGenerator: generateSalt, hashAlg: 'sha-256',
  kbSigner: await ES256.getSigner(input.holderPrivateJwk), kbSignAlg: 'ES256',
});
const vpToken = {};
for (const cq of query.credentials) {
  if (input.queries && !input.queries.includes(cq.id)) continue;
  const frame = Object.fromEntries(cq.claims.map(c => [c.path[0], true]));
  vpToken[cq.id] = [await sdk.present(input.credential, frame, {kb: {payload: {
    iat: Math.floor(Date.now() / 1000), aud: request.client_id,
    nonce: input.nonce ?? request.nonce,
  }}})];
}
const jarm = request.response_mode === 'direct_post.jwt' ? {
  encryption: {nonce: randomBytes(16).toString('base64url')},
  serverMetadata: {
    authorization_signing_alg_values_supported: ['ES256'],
    authorization_encryption_alg_values_supported: ['ECDH-ES'],
    authorization_encryption_enc_values_supported: ['A128GCM', 'A256GCM'],
  },
} : undefined;
const response = await client.createOpenid4vpAuthorizationResponse({
  authorizationRequestPayload: request,
  authorizationResponsePayload: {vp_token: vpToken},
  jarm,
});
const submitted = await client.submitOpenid4vpAuthorizationResponse({
  authorizationRequestPayload: request,
  authorizationResponsePayload: response.authorizationResponsePayload,
  jarm: response.jarm ? {responseJwt: response.jarm.responseJwt} : undefined,
});
const text = await submitted.response.text();
process.stdout.write(JSON.stringify({
  client: {prefix: resolved.client.prefix, identifier: resolved.client.identifier},
  jarSigner: resolved.jar?.signer?.method ?? null,
  dcql: query, request, responseMode: submitted.responseMode,
  sent: response.jarm ? {response: response.jarm.responseJwt}
    : response.authorizationResponsePayload,
  status: submitted.response.status, body: text,
}));
