// A page whose API call fails shows the API's error message (and hint), not a blank page.
export default async function ({ page, base, args, shot }) {
  await page.goto(`${base}${args.path}`);
  const box = page.getByTestId("error-state");
  await box.waitFor();
  await shot(args.shot);
  return {
    message: await box.getByTestId("error-message").textContent(),
    hint: await box.getByTestId("error-hint").textContent().catch(() => null),
  };
}
