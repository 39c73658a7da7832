// An independent reader of our status lists: @digitalbazaar/vc-bitstring-status-list (npm).
// usage: node read_status_list.mjs <node_modules> <input.json>
// input: {"jwk": {public P-256 JWK of the issuing department},
//         "credentials": {"<name>": <VC 2.0 JSON with BitstringStatusListEntry statuses>, ...}}
// For each credential, the library's checkStatus fetches every statusListCredential through our
// documentLoader (HTTP GET of the vc+jwt, its ES256 signature checked here with WebCrypto against
// the JWK), checks purposes and issuers match, decodes encodedList and reads the bit.
// Prints {"<name>": {"verified": bool, "revocation": bool, "suspension": bool, "error": str}}.
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';

const [modules, inputPath] = process.argv.slice(2);
const lib = await import(pathToFileURL(
  join(modules, '@digitalbazaar/vc-bitstring-status-list/lib/index.js')).href);
const input = JSON.parse(readFileSync(inputPath, 'utf8'));

const b64url = s => Buffer.from(s, 'base64url');
const key = await crypto.subtle.importKey(
  'jwk', input.jwk, {name: 'ECDSA', namedCurve: 'P-256'}, false, ['verify']);

const fetched = {};
async function documentLoader(url) {
  const res = await fetch(url, {headers: {Accept: 'application/vc+jwt'}});
  if(res.status !== 200) {
    throw new Error(`GET ${url}: ${res.status}`);
  }
  const jwt = (await res.text()).trim();
  const [h, p, s] = jwt.split('.');
  const header = JSON.parse(b64url(h).toString('utf8'));
  if(header.alg !== 'ES256' || header.typ !== 'vc+jwt') {
    throw new Error(`unexpected JWS header ${JSON.stringify(header)}`);
  }
  // JWS ES256 signatures are raw r || s, which is what WebCrypto's ECDSA verifies
  const ok = await crypto.subtle.verify(
    {name: 'ECDSA', hash: 'SHA-256'}, key, b64url(s), Buffer.from(`${h}.${p}`, 'ascii'));
  if(!ok) {
    throw new Error(`bad signature on ${url}`);
  }
  fetched[url] = res.headers.get('etag');
  return {contextUrl: null, documentUrl: url, document: JSON.parse(b64url(p).toString('utf8'))};
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
process.stdout.write(JSON.stringify(out));
