"""The marketplace registry service (``dteg marketplace serve``): component metadata in MongoDB,
artifacts in a folder or S3, a PEP 503 simple index and a JSON API. The engine never imports it."""
