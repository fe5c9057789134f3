import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from "react";

/** Where the panel is served; every route lives below it, so reloading any page works. */
export const BASE = "/admin";

function currentPath(): string {
  const p = window.location.pathname;
  if (!p.startsWith(BASE)) return "/";
  return p.slice(BASE.length) || "/";
}

function subscribe(cb: () => void): () => void {
  window.addEventListener("popstate", cb);
  return () => window.removeEventListener("popstate", cb);
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, currentPath);
}

export function navigate(path: string, replace = false): void {
  if (replace) window.history.replaceState(null, "", BASE + path);
  else window.history.pushState(null, "", BASE + path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

/** Params of a path pattern like "/templates/:key", or undefined when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const a = pattern.split("/").filter(Boolean);
  const b = path.split("/").filter(Boolean);
  if (a.length !== b.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(":")) params[a[i].slice(1)] = decodeURIComponent(b[i]);
    else if (a[i] !== b[i]) return undefined;
  }
  return params;
}

export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    rest.onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a {...rest} href={BASE + to} onClick={onClick} />;
}
