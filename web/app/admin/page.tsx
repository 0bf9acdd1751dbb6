"use client";
// Who may use this server, and with what roles: local users and API tokens.
import { useState, type FormEvent } from "react";
import { api, ApiError, type Binding, type ErrorBody, type RoleInfo, type TokenCreated, type TokenInfo, type UserInfo } from "@/lib/api";
import { can } from "@/lib/access";
import { ago, when } from "@/lib/format";
import { useApi } from "@/lib/useApi";
import { useSession } from "@/lib/session";
import { ActionButton } from "@/components/ActionButton";
import { BindingsEditor, describeBindings } from "@/components/BindingsEditor";
import { ConfirmButton } from "@/components/ConfirmButton";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";

const input = "rounded-md border border-stone-300 px-2 py-1 text-sm";
const primary = "rounded-md border border-blue-700 bg-blue-600 px-3 py-1 text-sm font-medium text-white hover:bg-blue-700 disabled:opacity-50";
const asError = (err: unknown): ErrorBody =>
  err instanceof ApiError ? err.body : { type: "internal", message: String(err), problems: [] };

/** A form's submit: busy while it runs, the API's error when it fails. */
function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorBody>();
  async function run(work: () => Promise<void>) {
    setBusy(true);
    setError(undefined);
    try {
      await work();
    } catch (err) {
      setError(asError(err));
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, run };
}

function CreateUser({ roles, onDone }: { roles: RoleInfo[]; onDone: () => void }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [bindings, setBindings] = useState<Binding[]>([{ role: "viewer", scope: "*" }]);
  const submit = useSubmit();
  function create(e: FormEvent) {
    e.preventDefault();
    submit.run(async () => {
      await api.createUser({ name, password, bindings });
      setName("");
      setPassword("");
      onDone();
    });
  }
  return (
    <form data-testid="user-create-form" onSubmit={create} className="mb-4 rounded-md border border-stone-200 bg-stone-50 p-3">
      <div className="mb-2 text-sm font-semibold">Add a user</div>
      <div className="flex flex-wrap items-start gap-3">
        <input data-testid="user-create-name" aria-label="user name" placeholder="user name" required value={name}
          onChange={(e) => setName(e.target.value)} className={input} autoComplete="off" />
        <input data-testid="user-create-password" aria-label="password" type="password" placeholder="password (12+ characters)" required
          value={password} onChange={(e) => setPassword(e.target.value)} className={input} autoComplete="new-password" />
        <BindingsEditor testid="user-create-roles" value={bindings} onChange={setBindings} roles={roles} />
        <button type="submit" data-testid="user-create" disabled={submit.busy} className={primary}>{submit.busy ? "Adding…" : "Add user"}</button>
      </div>
      {submit.error && <ErrorState error={submit.error} title="Could not add the user" />}
    </form>
  );
}

function UserRow({ user, roles, self, onChange }: { user: UserInfo; roles: RoleInfo[]; self: boolean; onChange: () => void }) {
  const [editing, setEditing] = useState<Binding[] | null>(null);
  const save = useSubmit();
  return (
    <tr data-testid="user-row" data-user={user.name} data-disabled={String(user.disabled)} className="border-b border-stone-100 align-top">
      <td className="py-2 pr-3 font-mono">{user.name}{self && <span className="ml-1 text-xs text-stone-500">(you)</span>}</td>
      <td className="pr-3 text-xs">{user.source}{user.groups.length ? ` · ${user.groups.join(", ")}` : ""}</td>
      <td className="pr-3 text-xs">
        {editing ? (
          <div className="space-y-2">
            <BindingsEditor testid={`user-roles-${user.name}`} value={editing} onChange={setEditing} roles={roles} />
            <div className="flex gap-2">
              <button type="button" data-testid={`user-save-roles-${user.name}`} disabled={save.busy} className={primary}
                onClick={() => save.run(async () => { await api.changeUser(user.name, { bindings: editing }); setEditing(null); onChange(); })}>
                {save.busy ? "Saving…" : "Save roles"}
              </button>
              <button type="button" onClick={() => setEditing(null)} className="text-sm text-stone-600 hover:underline">Cancel</button>
            </div>
            {save.error && <ErrorState error={save.error} title="Could not change the roles" />}
          </div>
        ) : (
          <span data-testid="user-roles">{describeBindings(user.bindings)}</span>
        )}
      </td>
      <td className="pr-3 text-xs">{user.disabled ? <span className="rounded bg-stone-200 px-1.5 py-0.5">disabled</span> : "active"}</td>
      <td className="pr-3 text-xs" title={user.last_login ?? ""}>{user.last_login ? ago(user.last_login) : "never"}</td>
      <td className="py-1 text-right">
        <span className="inline-flex flex-wrap justify-end gap-2">
          {!editing && <button type="button" data-testid={`user-edit-roles-${user.name}`} onClick={() => setEditing(user.bindings)}
            className="rounded-md border border-stone-300 bg-white px-3 py-1 text-sm hover:bg-stone-50">Change roles</button>}
          {!self && (user.disabled
            ? <ActionButton testid={`user-enable-${user.name}`} label="Enable" action={() => api.changeUser(user.name, { disabled: false })} onDone={onChange} />
            : <ActionButton testid={`user-disable-${user.name}`} label="Disable" action={() => api.changeUser(user.name, { disabled: true })} onDone={onChange} />)}
          {!self && <ConfirmButton testid={`user-delete-${user.name}`} label="Delete" confirm={`Delete ${user.name}`}
            action={() => api.deleteUser(user.name)} onDone={onChange} />}
        </span>
      </td>
    </tr>
  );
}

function Users({ roles }: { roles: RoleInfo[] }) {
  const users = useApi(() => api.users(), []);
  const { me } = useSession();
  return (
    <Section title="Users" testid="users">
      <CreateUser roles={roles} onDone={users.reload} />
      {users.loading ? <Loading what="Loading users" /> : !users.data ? <ErrorState error={users.error!} title="Could not load the users" />
        : users.data.length === 0 ? <Empty>No users yet.</Empty> : (
          <div className="overflow-x-auto">
            {users.error && <ErrorState error={users.error} title="Could not refresh the users (showing the last answer)" />}
            <table data-testid="user-table" className="w-full text-left text-sm">
              <thead className="border-b text-xs uppercase text-stone-500">
                <tr><th className="py-1 pr-3">Name</th><th className="pr-3">Source</th><th className="pr-3">Roles</th>
                  <th className="pr-3">Status</th><th className="pr-3">Last sign-in</th><th /></tr>
              </thead>
              <tbody>
                {users.data.map((u) => <UserRow key={u.id} user={u} roles={roles} self={me?.kind === "user" && me.id === u.id} onChange={users.reload} />)}
              </tbody>
            </table>
          </div>
        )}
    </Section>
  );
}

function Secret({ created, onDismiss }: { created: TokenCreated; onDismiss: () => void }) {
  const [copied, setCopied] = useState<"yes" | "no">();
  async function copy() {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied("yes");
    } catch {
      setCopied("no");
    }
  }
  return (
    <div data-testid="token-created" className="mb-4 rounded-md border border-amber-400 bg-amber-50 p-3 text-sm">
      <div className="font-semibold text-amber-900">API token <code>{created.name}</code> created — copy it now</div>
      <p data-testid="token-warning" className="mb-2 text-amber-900">This is the only time the secret is shown: the server keeps only its hash.
        Store it in a secret manager; if it is lost, revoke the token and create a new one.</p>
      <div className="flex flex-wrap items-center gap-2">
        <code data-testid="token-secret" className="select-all break-all rounded border border-amber-300 bg-white px-2 py-1 font-mono text-xs">{created.token}</code>
        <button type="button" data-testid="token-copy" onClick={copy}
          className="rounded-md border border-stone-300 bg-white px-3 py-1 text-sm hover:bg-stone-50">
          {copied === "yes" ? "Copied" : "Copy"}
        </button>
        {copied === "no" && <span className="text-xs text-amber-900">The browser refused the clipboard: select the text and copy it.</span>}
        <button type="button" data-testid="token-dismiss" onClick={onDismiss} className="text-sm text-stone-600 hover:underline">I have stored it</button>
      </div>
    </div>
  );
}

function CreateToken({ roles, onCreated }: { roles: RoleInfo[]; onCreated: (t: TokenCreated) => void }) {
  const [name, setName] = useState("");
  const [days, setDays] = useState("90");
  const [bindings, setBindings] = useState<Binding[]>([{ role: "runner", scope: "*" }]);
  const submit = useSubmit();
  function create(e: FormEvent) {
    e.preventDefault();
    submit.run(async () => {
      const created = await api.createToken({ name, bindings, expires_in_days: days.trim() ? Number(days) : null });
      setName("");
      onCreated(created);
    });
  }
  return (
    <form data-testid="token-create-form" onSubmit={create} className="mb-4 rounded-md border border-stone-200 bg-stone-50 p-3">
      <div className="mb-2 text-sm font-semibold">Create an API token (for scripts and CI: <code>Authorization: Bearer …</code>)</div>
      <div className="flex flex-wrap items-start gap-3">
        <input data-testid="token-create-name" aria-label="token name" placeholder="name, e.g. ci-deploy" required value={name}
          onChange={(e) => setName(e.target.value)} className={input} autoComplete="off" />
        <label className="text-xs text-stone-600">expires in
          <input data-testid="token-create-days" aria-label="expires in days" value={days} onChange={(e) => setDays(e.target.value)}
            inputMode="numeric" className={`${input} mx-1 w-16`} />days (empty: never)
        </label>
        <BindingsEditor testid="token-create-roles" value={bindings} onChange={setBindings} roles={roles} />
        <button type="submit" data-testid="token-create" disabled={submit.busy} className={primary}>{submit.busy ? "Creating…" : "Create token"}</button>
      </div>
      {submit.error && <ErrorState error={submit.error} title="Could not create the token" />}
    </form>
  );
}

function tokenState(t: TokenInfo): string {
  if (t.revoked_at) return "revoked";
  if (t.expires_at && new Date(t.expires_at) <= new Date()) return "expired";
  return "active";
}

function Tokens({ roles }: { roles: RoleInfo[] }) {
  const tokens = useApi(() => api.tokens(), []);
  const [created, setCreated] = useState<TokenCreated>();
  return (
    <Section title="API tokens" testid="tokens">
      {created && <Secret created={created} onDismiss={() => setCreated(undefined)} />}
      <CreateToken roles={roles} onCreated={(t) => { setCreated(t); tokens.reload(); }} />
      {tokens.loading ? <Loading what="Loading API tokens" /> : !tokens.data ? <ErrorState error={tokens.error!} title="Could not load the API tokens" />
        : tokens.data.length === 0 ? <Empty testid="tokens-empty">No API tokens yet — create one above for a script or a CI job.</Empty> : (
          <div className="overflow-x-auto">
            <table data-testid="token-table" className="w-full text-left text-sm">
              <thead className="border-b text-xs uppercase text-stone-500">
                <tr><th className="py-1 pr-3">Name</th><th className="pr-3">Roles</th><th className="pr-3">Created</th>
                  <th className="pr-3">Expires</th><th className="pr-3">Last used</th><th className="pr-3">Status</th><th /></tr>
              </thead>
              <tbody>
                {tokens.data.map((t) => {
                  const state = tokenState(t);
                  return (
                    <tr key={t.id} data-testid="token-row" data-token={t.name} data-id={t.id} data-state={state} className="border-b border-stone-100">
                      <td className="py-2 pr-3 font-mono">{t.name}</td>
                      <td className="pr-3 text-xs">{describeBindings(t.bindings)}</td>
                      <td className="pr-3 text-xs" title={t.created_at}>{when(t.created_at)} by {t.created_by}</td>
                      <td className="pr-3 text-xs">{t.expires_at ? when(t.expires_at) : "never"}</td>
                      <td className="pr-3 text-xs">{t.last_used ? ago(t.last_used) : "never"}</td>
                      <td className="pr-3 text-xs" data-testid="token-state">{state}</td>
                      <td className="py-1 text-right">{state === "active" && (
                        <ConfirmButton testid={`token-revoke-${t.name}`} label="Revoke" confirm={`Revoke ${t.name}`}
                          action={() => api.revokeToken(t.id)} onDone={tokens.reload} />
                      )}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
    </Section>
  );
}

export default function AdminPage() {
  const { me } = useSession();
  const roles = useApi(() => api.roles(), []);
  if (!me) return <Loading what="Checking your permissions" />;
  const users = can(me, "users.manage");
  const tokens = can(me, "tokens.manage");
  if (!users && !tokens) {
    return <Empty testid="forbidden">You need the users.manage or tokens.manage permission (an admin role on every pipeline) to manage access.</Empty>;
  }
  return (
    <div data-testid="admin-page">
      <h1 className="mb-4 text-2xl font-bold">Access</h1>
      {roles.error && <ErrorState error={roles.error} title="Could not load the roles (the built-in ones are offered)" />}
      {users && <Users roles={roles.data ?? []} />}
      {tokens && <Tokens roles={roles.data ?? []} />}
    </div>
  );
}
