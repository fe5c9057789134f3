// Connect JSON over HTTP/1.1 the way the admin panel's browser calls it: fetch, a session cookie and
// the Connect-Protocol-Version header.
export interface RpcResult<T = Record<string, unknown>> {
  status: number;
  body: T & { code?: string; message?: string };
  setCookie: string | null;
}

export function createRpc(baseUrl: string) {
  return async function rpc<T = Record<string, unknown>>(
    method: string,
    body: unknown,
    o: { cookie?: string; bearer?: string; protocolHeader?: boolean } = {},
  ): Promise<RpcResult<T>> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (o.protocolHeader !== false) headers["connect-protocol-version"] = "1";
    if (o.cookie) headers.cookie = o.cookie;
    if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
    const r = await fetch(`${baseUrl}/${method}`, { method: "POST", headers, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as RpcResult<T>["body"], setCookie: r.headers.get("set-cookie") };
  };
}

/** "notify_admin=<token>" from a Set-Cookie header. */
export function cookieOf(setCookie: string | null): string {
  const m = /^(notify_admin=[^;]*)/.exec(setCookie ?? "");
  if (!m) throw new Error(`no session cookie in ${setCookie}`);
  return m[1];
}
