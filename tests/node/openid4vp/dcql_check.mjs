// The `dcql` npm package (OpenWallet Foundation, dcql-ts) judges the same DCQL cases as our
// node/openid4vp/dcql.py: whether a query is valid, and whether presented claims satisfy it
// (credential_sets, claim_sets). usage: node dcql_check.mjs <node_modules> <cases.json>
// cases: [{"query": {...}, "presented": {"<query id>": {<claims, with vct>}} | null}]
// prints [{"valid": bool, "error": str|null, "satisfied": bool|null, "claimSet": {id: index}}]
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';

const [modules, casesPath] = process.argv.slice(2);
const {DcqlQuery, DcqlPresentationResult} = await import(
  pathToFileURL(join(modules, 'dcql/dist/index.mjs')).href);
const out = [];
for (const {query, presented} of JSON.parse(readFileSync(casesPath, 'utf8'))) {
  let parsed;
  try {
    parsed = DcqlQuery.parse(query);
    DcqlQuery.validate(parsed);
  } catch (e) {
    out.push({valid: false, error: String(e.message).slice(0, 200), satisfied: null, claimSet: {}});
    continue;
  }
  if (!presented) { out.push({valid: true, error: null, satisfied: null, claimSet: {}}); continue; }
  const pres = Object.fromEntries(Object.entries(presented).map(([id, claims]) => [id, [{
    credential_format: 'dc+sd-jwt', vct: claims.vct, claims, cryptographic_holder_binding: true,
  }]]));
  const r = DcqlPresentationResult.fromDcqlPresentation(pres, {dcqlQuery: parsed});
  const claimSet = {};
  for (const [id, m] of Object.entries(r.credential_matches)) {
    const sets = m.success ? m.valid_credentials?.[0]?.claims?.valid_claim_sets : undefined;
    if (sets && sets[0].claim_set_index !== undefined) claimSet[id] = sets[0].claim_set_index;
  }
  out.push({valid: true, error: null, satisfied: r.can_be_satisfied, claimSet});
}
process.stdout.write(JSON.stringify(out));
