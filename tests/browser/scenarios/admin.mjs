// The admin page: add a user, change their roles, disable and delete them; create an API
// token (its secret shown once, copied), check that it works, revoke it.
export default async function ({ page, base, args, shot }) {
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await page.goto(`${base}/`);
  await page.getByTestId("nav-admin").click();
  await page.getByTestId("user-table").waitFor();
  const row = () => page.locator(`[data-testid="user-row"][data-user="${args.new_user}"]`);
  const result = {};

  await page.getByTestId("user-create-name").fill(args.new_user);
  await page.getByTestId("user-create-password").fill(args.password);
  await page.getByTestId("user-create-roles-role").selectOption("viewer");
  await page.getByTestId("user-create-roles-scope").fill("*");
  await page.getByTestId("user-create").click();
  await row().waitFor();
  result.created = await row().getByTestId("user-roles").textContent();

  await page.getByTestId(`user-edit-roles-${args.new_user}`).click();
  await page.getByTestId(`user-roles-${args.new_user}-role`).selectOption("runner");
  await page.getByTestId(`user-roles-${args.new_user}-scope`).fill("sales_*");
  await page.getByTestId(`user-save-roles-${args.new_user}`).click();
  await row().getByTestId("user-roles").filter({ hasText: "runner on sales_*" }).waitFor();
  result.changed = await row().getByTestId("user-roles").textContent();

  await page.getByTestId(`user-disable-${args.new_user}`).click();
  await page.locator(`[data-testid="user-row"][data-user="${args.new_user}"][data-disabled="true"]`).waitFor();
  result.disabled = true;
  await shot("admin-users");

  await page.getByTestId(`user-delete-${args.new_user}`).click();
  await page.getByTestId(`user-delete-${args.new_user}-confirm`).click();
  await row().waitFor({ state: "detached" });
  result.deleted = true;

  await page.getByTestId("token-create-name").fill(args.token);
  await page.getByTestId("token-create-roles-role").selectOption("viewer");
  await page.getByTestId("token-create").click();
  await page.getByTestId("token-created").waitFor();
  const secret = await page.getByTestId("token-secret").textContent();
  result.warning = await page.getByTestId("token-warning").textContent();
  await page.getByTestId("token-copy").click();
  await page.getByTestId("token-copy").filter({ hasText: "Copied" }).waitFor();
  result.copied = (await page.evaluate(() => navigator.clipboard.readText())) === secret;
  const tokenRow = page.locator(`[data-testid="token-row"][data-token="${args.token}"]`);
  await tokenRow.waitFor();
  await shot("admin-token-created");
  // The secret works as a bearer token (no cookie), for what its role allows.
  result.tokenMe = await page.evaluate(async (s) => {
    const r = await fetch("/api/v1/auth/me", { headers: { Authorization: `Bearer ${s}` }, credentials: "omit" });
    return { status: r.status, name: (await r.json()).name };
  }, secret);
  await page.getByTestId("token-dismiss").click();
  result.secretGone = (await page.getByTestId("token-secret").count()) === 0;

  await page.getByTestId(`token-revoke-${args.token}`).click();
  await page.getByTestId(`token-revoke-${args.token}-confirm`).click();
  await page.locator(`[data-testid="token-row"][data-token="${args.token}"][data-state="revoked"]`).waitFor();
  result.tokenId = await tokenRow.getAttribute("data-id");
  await shot("admin-token-revoked");
  return { ...result, secret };
}
