import type { NextConfig } from "next";
import { PHASE_DEVELOPMENT_SERVER } from "next/constants";

// The build is a static export that `dteg server` serves under `/` (scripts/build_ui copies
// web/out/ to dteg/server/ui/). Pages take ids from the query string (?name=, ?id=): a static
// export has no server routes. `next dev` proxies /api to a running dteg server instead.
export default function config(phase: string): NextConfig {
  if (phase === PHASE_DEVELOPMENT_SERVER) {
    const api = process.env.DTEG_API ?? "http://127.0.0.1:8265";
    return {
      trailingSlash: true,
      async rewrites() {
        return [{ source: "/api/:path*", destination: `${api}/api/:path*` }];
      },
    };
  }
  return { output: "export", trailingSlash: true, images: { unoptimized: true } };
}
