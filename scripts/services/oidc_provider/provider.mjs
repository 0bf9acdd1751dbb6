// A real OpenID Connect provider for dteg's single sign-on tests: panva's `oidc-provider`
// (the certified Node.js implementation) behind a plain node:http server on 127.0.0.1.
// Started, checked and stopped by scripts/services/oidc.
//
// What it covers: discovery (/.well-known/openid-configuration), the JWKS (/jwks: an RSA and
// an EC P-256 key, generated at every start, so a restart is a key rotation), the
// authorization code flow with PKCE (S256, required for every client), a confidential client
// `dteg` (client_secret_basic or client_secret_post), id_tokens signed RS256, userinfo, and a
// `groups` scope whose claim lists an account's groups. Sign-in goes through the provider's
// own interaction flow: /interaction/<uid> is a real HTML form (user name, password) posted
// back here; consent is granted for the one first-party client without asking.
//
// What it does not cover: refresh tokens, logout (RP-initiated, back/front channel), dynamic
// registration, encrypted or HS-signed id_tokens, MFA, and anything vendor-specific (Okta,
// Azure AD and Google add their own claims, group overage, tenant issuers).
//
// Knobs (environment): DTEG_OIDC_HOST (127.0.0.1), DTEG_OIDC_PORT (59090),
// DTEG_OIDC_CLIENT_SECRET (dteg-test-secret), DTEG_OIDC_REDIRECT_URIS (extra exact redirect
// URIs, comma-separated).
import http from "node:http";
import { generateKeyPairSync, randomBytes, timingSafeEqual } from "node:crypto";

import Provider from "oidc-provider";

const HOST = process.env.DTEG_OIDC_HOST || "127.0.0.1";
const PORT = Number(process.env.DTEG_OIDC_PORT || 59090);
const ISSUER = `http://${HOST}:${PORT}`;
const SECRET = process.env.DTEG_OIDC_CLIENT_SECRET || "dteg-test-secret";

// The test accounts. The passwords are test fixtures, not secrets.
const ACCOUNTS = {
  ada: { password: "ada-password", name: "Ada Lovelace", email: "ada@example.com", groups: ["data-eng"] },
  bob: { password: "bob-password", name: "Bob Analyst", email: "bob@example.com", groups: ["analysts"] },
  eve: { password: "eve-password", name: "Eve Nogroup", email: "eve@example.com", groups: [] },
};

function newJwk(kind) {
  const { privateKey } = kind === "rsa"
    ? generateKeyPairSync("rsa", { modulusLength: 2048 })
    : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" });
  return { ...jwk, kid: `${kind}-${randomBytes(6).toString("hex")}`, use: "sig", alg: kind === "rsa" ? "RS256" : "ES256" };
}

// The client's redirect URIs: oidc-provider matches exactly, except for a `native` client
// on a loopback address, where it ignores the port (RFC 8252 section 7.3). That rule lets
// every test start dteg on a free port of 127.0.0.1 without registering it here; the path
// still has to match exactly.
const redirectUris = [
  "http://127.0.0.1/api/v1/auth/oidc/callback",
  "http://localhost/api/v1/auth/oidc/callback",
  ...(process.env.DTEG_OIDC_REDIRECT_URIS || "").split(",").map((s) => s.trim()).filter(Boolean),
];

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: "dteg",
    client_secret: SECRET,
    application_type: "native",
    redirect_uris: redirectUris,
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    id_token_signed_response_alg: "RS256",
  }],
  clientAuthMethods: ["client_secret_basic", "client_secret_post"],
  jwks: { keys: [newJwk("rsa"), newJwk("ec")] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  pkce: { required: () => true },
  responseTypes: ["code"],
  scopes: ["openid", "profile", "email", "groups"],
  claims: {
    openid: ["sub"],
    profile: ["name", "preferred_username"],
    email: ["email", "email_verified"],
    groups: ["groups"],
  },
  features: { devInteractions: { enabled: false }, userinfo: { enabled: true } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: account.name, email: account.email,
          email_verified: true, groups: account.groups };
      },
    };
  },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 600, IdToken: 300 },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, clientId, error) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Sign in — test provider</title></head>
<body style="font-family: sans-serif; max-width: 24rem; margin: 4rem auto">
<h1>Sign in</h1><p>to <b>${escape(clientId)}</b> (dteg's test OpenID provider)</p>
${error ? `<p id="error" role="alert" style="color: #b00">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
<p><label>User name <input name="username" id="username" required autofocus></label></p>
<p><label>Password <input name="password" id="password" type="password" required></label></p>
<p><button type="submit" id="submit">Sign in</button></p>
</form></body></html>`;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
      if (body.length > 10_000) reject(new Error("form too large"));
    });
    req.on("end", () => resolve(new URLSearchParams(body)));
    req.on("error", reject);
  });
}

function passwordMatches(account, given) {
  const want = Buffer.from(account.password);
  const got = Buffer.from(String(given));
  return want.length === got.length && timingSafeEqual(want, got);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error("interaction does not match its cookie");
  const { prompt, params } = details;
  if (prompt.name === "consent") {
    // The one first-party client: grant what it asked for without a consent screen.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === "GET" && !action) {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(loginPage(uid, params.client_id));
    return;
  }
  if (req.method === "POST" && action === "login") {
    const form = await readForm(req);
    const name = form.get("username") || "";
    const account = Object.hasOwn(ACCOUNTS, name) ? ACCOUNTS[name] : undefined;
    if (!account || !passwordMatches(account, form.get("password") || "")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(loginPage(uid, params.client_id, "Wrong user name or password."));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: name } }, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(405, { "content-type": "text/plain" });
  res.end("method not allowed\n");
}

const handle = provider.callback();
const server = http.createServer((req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login))?\/?$/.exec(new URL(req.url, ISSUER).pathname);
  if (!match) {
    handle(req, res);
    return;
  }
  interaction(req, res, match[1], match[2]).catch((err) => {
    console.error(`interaction ${match[1]}: ${err?.stack ?? err}`);
    if (!res.headersSent) res.writeHead(400, { "content-type": "text/plain" });
    res.end(`${err?.name ?? "Error"}: ${err?.message ?? err}\nStart the sign-in again from the application.\n`);
  });
});
provider.on("server_error", (_ctx, err) => console.error(`server_error: ${err?.stack ?? err}`));
server.listen(PORT, HOST, () => console.log(`oidc-provider listening on ${ISSUER}`));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
