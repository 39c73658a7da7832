"""OpenID for Verifiable Presentations 1.0 at the counter (issue 22, docs/openid4vp.md): the
verifier's signed authorization requests with DCQL queries, and the SD-JWT VC presentations that
any conformant wallet posts back by ``direct_post``."""
