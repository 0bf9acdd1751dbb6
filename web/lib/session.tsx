"use client";
// Who is signed in (GET /api/v1/auth/me), for the whole app: the header shows the name and
// the admin links, pages hide what the user may not do. Not asked on the login page.
import { usePathname } from "next/navigation";
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api, ApiError, LOGIN, type ErrorBody, type Me } from "./api";

export interface Session {
  me: Me | undefined;
  error: ErrorBody | undefined;
  /** The login page stores the answer of POST /auth/login here (no second round trip). */
  setMe: (me: Me | undefined) => void;
  reload: () => void;
}

const SessionContext = createContext<Session>({ me: undefined, error: undefined, setMe: () => {}, reload: () => {} });

export function SessionProvider({ children }: { children: ReactNode }) {
  const path = usePathname() ?? "/";
  const onLogin = path.startsWith(LOGIN.slice(0, -1));
  const [me, setMe] = useState<Me>();
  const [error, setError] = useState<ErrorBody>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (onLogin || me) return;
    let live = true;
    api.me().then((m) => { if (live) { setMe(m); setError(undefined); } },
      (err: unknown) => {
        if (live) setError(err instanceof ApiError ? err.body : { type: "internal", message: String(err), problems: [] });
      });
    return () => { live = false; };
  }, [onLogin, me, tick]);
  const reload = useCallback(() => { setMe(undefined); setTick((t) => t + 1); }, []);
  return <SessionContext.Provider value={{ me, error, setMe, reload }}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  return useContext(SessionContext);
}
