"""Open credentials (issue 21): a licence as a W3C VC 2.0 secured as ``vc+jwt`` and as an SD-JWT VC
(``dc+sd-jwt``), signed by the issuing department's P-256 credential key registered on chain, and
their verification. See docs/credentials.md."""
