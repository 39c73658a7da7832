// Independent readers of our status lists from npm: @digitalbazaar/vc-bitstring-status-list (W3C
// Bitstring Status List) and @sd-jwt/jwt-status-list (IETF Token Status List, OpenWallet sd-jwt-js).
// usage: node read_status_list.mjs <node_modules> <input.json>
// input: {"jwk": {public P-256 JWK of the issuing department},
//         "credentials": {"<name>": <VC 2.0 JSON with BitstringStatusListEntry statuses>, ...},
//         "sdjwts": {"<name>": "<an SD-JWT VC, compact>", ...}}
// For each credential, the library's checkStatus fetches every statusListCredential through our
// documentLoader (HTTP GET of the vc+jwt, its ES256 signature checked here with WebCrypto against
// the JWK), checks purposes and issuers match, decodes encodedList and reads the bit.
// For each SD-JWT VC, @sd-jwt/jwt-status-list takes the status claim (idx, uri) from the
// issuer-signed JWT, the statuslist+jwt is fetched from uri (signature checked likewise, sub = uri)
// and the library decompresses lst and reads the status at idx.
// Prints {"<name>": {"verified": bool, "revocation": bool, "suspension": bool, "error": str},
//         "_lists": {url: bits}, "_tokens": {"<name>": {"idx": n, "status": 0|1|2, "bits": 2}}}.
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';

const [modules, inputPath] = process.argv.slice(2);
const lib = await import(pathToFileURL(
  join(modules, '@digitalbazaar/vc-bitstring-status-list/lib/index.js')).href);
const tsl = await import(pathToFileURL(
  join(modules, '@sd-jwt/jwt-status-list/dist/index.mjs')).href);
const input = JSON.parse(readFileSync(inputPath, 'utf8'));

const b64url = s => Buffer.from(s, 'base64url');
const key = await crypto.subtle.importKey(
  'jwk', input.jwk, {name: 'ECDSA', namedCurve: 'P-256'}, false, ['verify']);

// GET a signed list; its ES256 signature checked against the department's key; the JWT and payload
async function fetchSigned(url, typ) {
  const res = await fetch(url, {headers: {Accept: `application/${typ}`}});
  if(res.status !== 200) {
    throw new Error(`GET ${url}: ${res.status}`);
  }
  const jwt = (await res.text()).trim();
  const [h, p, s] = jwt.split('.');
  const header = JSON.parse(b64url(h).toString('utf8'));
  if(header.alg !== 'ES256' || header.typ !== typ) {
    throw new Error(`unexpected JWS header ${JSON.stringify(header)}`);
  }
  // JWS ES256 signatures are raw r || s, which is what WebCrypto's ECDSA verifies
  const ok = await crypto.subtle.verify(
    {name: 'ECDSA', hash: 'SHA-256'}, key, b64url(s), Buffer.from(`${h}.${p}`, 'ascii'));
  if(!ok) {
    throw new Error(`bad signature on ${url}`);
  }
  return {jwt, payload: JSON.parse(b64url(p).toString('utf8'))};
}

const fetched = {};
async function documentLoader(url) {
  const {payload} = await fetchSigned(url, 'vc+jwt');
  fetched[url] = true;
  return {contextUrl: null, documentUrl: url, document: payload};
}

const out = {};
for(const [name, credential] of Object.entries(input.credentials)) {
  const result = await lib.checkStatus({
    credential, documentLoader,
    verifyBitstringStatusListCredential: false,  // secured as vc+jwt: checked in the loader
    verifyMatchingIssuers: true
  });
  const row = {verified: result.verified};
  if(result.error) {
    row.error = String(result.error.message || result.error);
  }
  for(const r of result.results || []) {
    row[r.credentialStatus.statusPurpose] = r.status;
  }
  out[name] = row;
}
// also the bare decoder, on each list we fetched: its length (bits)
out._lists = {};
for(const url of Object.keys(fetched)) {
  const {document} = await documentLoader(url);
  const list = await lib.decodeList({encodedList: document.credentialSubject.encodedList});
  out._lists[url] = list.length;
}
out._tokens = {};
for(const [name, sdjwt] of Object.entries(input.sdjwts || {})) {
  const {idx, uri} = tsl.getStatusListFromJWT(sdjwt.split('~')[0]);
  const {jwt, payload} = await fetchSigned(uri, 'statuslist+jwt');
  if(payload.sub !== uri) {
    throw new Error(`the list at ${uri} names itself ${payload.sub}`);
  }
  const list = tsl.getListFromStatusListJWT(jwt);
  out._tokens[name] = {idx, status: list.getStatus(idx), bits: list.getBitsPerStatus()};
}
process.stdout.write(JSON.stringify(out));
