"""Who may do what: users and their password hashes, JWT access tokens signed with a
rotatable RSA key (public keys at a JWKS endpoint), refresh tokens, API tokens for service
accounts, OIDC single sign-on, role-based authorization scoped to pipelines (one pure
``authorize`` function), login throttling and a hash-chained audit log.

The server imports this package; the engine and the orchestrator never do."""
