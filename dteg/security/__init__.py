"""Keys, ciphers and access rules behind dteg's security stages (no Beam here)."""
