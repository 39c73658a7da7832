// An SD-JWT VC implementation we did not write, from npm: @sd-jwt/sd-jwt-vc (OpenWallet
// Foundation sd-jwt-js) with @sd-jwt/crypto-nodejs (ES256 over Node's WebCrypto).
// usage: node js_sd_jwt_vc.mjs <node_modules> <input.json>
// input: {"issuerJwk": {the department's public P-256 JWK, read from the chain},
//         "presentation": "<our wallet's presentation: SD-JWT VC + KB-JWT>", "nonce": "…",
//         "issue": {"privateJwk": {a department key, d included}, "kid": "…", "claims": {…},
//                   "disclose": ["…", …], "holderPrivateJwk": {…}, "present": ["…"],
//                   "aud": "…", "nonce": "…"}}
// 1. verify: the library checks our presentation's issuer signature, disclosures, KB-JWT (signed
//    by cnf.jwk, nonce, sd_hash) and the status claim (it fetches the node's Token Status List
//    from status.status_list.uri and reads idx; its signature checked with the same key).
// 2. issue: the library issues an SD-JWT VC with the given department key (every field in
//    "disclose" behind a disclosure, cnf = the holder's key) and presents it with a KB-JWT.
// Prints {"verified": {"claims": …, "kb": …} | {"error": …}, "issued": "<presentation>"}.
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';

const [modules, inputPath] = process.argv.slice(2);
const load = p => import(pathToFileURL(join(modules, p)).href);
const {SDJwtVcInstance} = await load('@sd-jwt/sd-jwt-vc/dist/index.mjs');
const {ES256, digest, generateSalt} = await load('@sd-jwt/crypto-nodejs/dist/index.mjs');
const input = JSON.parse(readFileSync(inputPath, 'utf8'));

const hasher = (data, alg) => digest(data, alg);
const issuerVerifier = await ES256.getVerifier(input.issuerJwk);
const kbVerifier = async (data, sig, payload) =>
  (await ES256.getVerifier(payload.cnf.jwk))(data, sig);

const out = {};
const verifierSdk = new SDJwtVcInstance({
  hasher, verifier: issuerVerifier, kbVerifier, statusVerifier: issuerVerifier,
});
try {
  const result = await verifierSdk.verify(input.presentation, {keyBindingNonce: input.nonce});
  const claims = await verifierSdk.getClaims(input.presentation);
  out.verified = {claims, kb: result.kb?.payload ?? null, header: result.header};
} catch(e) {
  out.verified = {error: String(e && e.message || e)};
}

const issue = input.issue;
const issuerSdk = new SDJwtVcInstance({
  hasher, saltGenerator: generateSalt, hashAlg: 'sha-256',
  signer: await ES256.getSigner(issue.privateJwk), signAlg: 'ES256',
  kbSigner: await ES256.getSigner(issue.holderPrivateJwk), kbSignAlg: 'ES256',
});
const credential = await issuerSdk.issue(
  issue.claims, {_sd: issue.disclose}, {header: {typ: 'dc+sd-jwt', kid: issue.kid}});
const frame = Object.fromEntries(issue.present.map(k => [k, true]));
out.issued = await issuerSdk.present(credential, frame, {
  kb: {payload: {iat: Math.floor(Date.now() / 1000), aud: issue.aud, nonce: issue.nonce}},
});
process.stdout.write(JSON.stringify(out));
