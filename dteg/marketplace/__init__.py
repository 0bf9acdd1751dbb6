"""The marketplace: component manifests, the registry client, install/update, and the author
side (create, test, quality gates, signing, publish). Imports dteg.spec and dteg.components;
the engine never imports it."""
