import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../log/logger.js";
import type { Db } from "../store/db.js";
import { BUILTIN_VARIABLES } from "./builtins.js";
import { compileLocale, renderChannel, type CompiledLocale, type LayoutSource } from "./compose.js";
import { pickLocale } from "./locale.js";
import { channelParts } from "./parts.js";
import { Lru } from "./lru.js";
import { buildTree, checkData, type VarNode } from "./schema.js";
import * as store from "./store.js";
import type { PinnedTemplate, RenderedMessage, TemplateCatalog } from "./types.js";

export interface TemplateCatalogDeps {
  db: Db;
  log: Logger;
  /** Compiled version+locale entries kept in memory (default 2,000). */
  cacheSize?: number;
}

/** What the catalog keeps per version: versions never change, so this never goes stale. */
interface VersionMeta {
  pinned: PinnedTemplate;
  layoutId: number | null;
}

export function createTemplateCatalog(deps: TemplateCatalogDeps): TemplateCatalog {
  const { db, log } = deps;
  const size = deps.cacheSize ?? 2000;
  const metas = new Lru<number, Promise<VersionMeta | undefined>>(size);
  const compiled = new Lru<string, Promise<CompiledLocale>>(size);
  const layouts = new Lru<number, Promise<LayoutSource | undefined>>(200);
  const trees = new Lru<number, VarNode>(size);

  // Promises are cached so concurrent misses for the same version load it once; failures and "not
  // found" are not cached, so a later call asks the database again.
  function cached<K, V>(lru: Lru<K, Promise<V>>, key: K, load: () => Promise<V>): Promise<V> {
    let p = lru.get(key);
    if (!p) {
      const loading = load();
      p = loading;
      lru.set(key, loading);
      loading.then(
        (v) => {
          if (v === undefined) lru.delete(key);
        },
        () => lru.delete(key),
      );
    }
    return p;
  }

  async function loadMeta(versionId: number): Promise<VersionMeta | undefined> {
    const v = await store.findVersionById(db, versionId);
    if (!v) return undefined;
    const locales = await store.findLocales(db, versionId);
    return {
      layoutId: v.layoutId,
      pinned: {
        templateId: v.templateId,
        versionId: v.id,
        key: v.key,
        version: v.version,
        category: v.category,
        channels: v.channels,
        defaultLocale: v.defaultLocale,
        locales,
        variables: v.variables,
      },
    };
  }

  const meta = (versionId: number) => cached(metas, versionId, () => loadMeta(versionId));

  // Concurrent Sends of one template share one lookup of its current version (single flight): a lookup
  // that starts after a publish sees it, so nothing is cached past the query under way.
  const lookups = new Map<string, ReturnType<typeof store.findTemplateVersion>>();
  const findVersion = (key: string, version: number) => {
    const k = `${key}\u0000${version}`;
    let p = lookups.get(k);
    if (!p) {
      p = store.findTemplateVersion(db, key, version).finally(() => lookups.delete(k));
      lookups.set(k, p);
    }
    return p;
  };

  function layoutSource(id: number): Promise<LayoutSource | undefined> {
    return cached(layouts, id, async () => {
      const l = await store.findLayoutById(db, id);
      return l ? { defaultLocale: l.defaultLocale, contents: l.contents } : undefined;
    });
  }

  async function compile(versionId: number, locale: string, m: VersionMeta): Promise<CompiledLocale> {
    const contents = await store.findContents(db, versionId, [locale]);
    const parts = contents.get(locale);
    if (!parts) throw new ConnectError(`template version ${versionId} has no locale ${locale}`, Code.Internal);
    const layout = m.layoutId != null ? await layoutSource(m.layoutId) : undefined;
    log.debug({ versionId, locale }, "template compiled");
    return compileLocale({
      key: m.pinned.key,
      version: m.pinned.version,
      locale,
      channels: m.pinned.channels,
      variables: m.pinned.variables,
      parts,
      layout,
    });
  }

  async function knownMeta(versionId: number): Promise<VersionMeta> {
    const m = await meta(versionId);
    if (!m) throw new ConnectError(`template version ${versionId} not found`, Code.NotFound);
    return m;
  }

  /** The version compiled in the locale render() uses for `locale`. */
  function compiledFor(versionId: number, m: VersionMeta, locale: string | undefined): Promise<CompiledLocale> {
    const chosen = pickLocale(locale, m.pinned.locales, m.pinned.defaultLocale);
    return cached(compiled, `${versionId}:${chosen}`, () => compile(versionId, chosen, m));
  }

  return {
    async resolveForSend(key, version, field = "template") {
      if (!key) throw new ConnectError(`${field}: required`, Code.InvalidArgument);
      const found = await findVersion(key, version ?? 0);
      if (!found) throw new ConnectError(`${field}: template "${key}" not found`, Code.NotFound);
      if (found.template.archivedAt) {
        throw new ConnectError(`${field}: template "${key}" is archived`, Code.FailedPrecondition);
      }
      if (!found.version) {
        if (version) throw new ConnectError(`${field}: template "${key}" has no version ${version}`, Code.NotFound);
        throw new ConnectError(`${field}: template "${key}" has no published version`, Code.FailedPrecondition);
      }
      const m = await meta(found.version.id);
      if (!m) throw new ConnectError(`${field}: template "${key}" not found`, Code.NotFound);
      return m.pinned;
    },

    validateData(t, data, fieldPrefix = "data") {
      if (data === null || typeof data !== "object" || Array.isArray(data)) {
        throw new ConnectError(`${fieldPrefix}: expected an object`, Code.InvalidArgument);
      }
      let tree = trees.get(t.versionId);
      if (!tree) {
        tree = buildTree([...BUILTIN_VARIABLES, ...t.variables]);
        trees.set(t.versionId, tree);
      }
      const problems = checkData(tree, data, fieldPrefix, { skipEnrichment: true });
      if (problems.length > 0) throw new ConnectError(problems.join("; "), Code.InvalidArgument);
    },

    async render(versionId, locale, channel, data): Promise<RenderedMessage> {
      return renderChannel(await compiledFor(versionId, await knownMeta(versionId), locale), channel, data);
    },

    async needsUser(versionId, channel, locale) {
      const m = await knownMeta(versionId);
      if (m.pinned.locales.length > 1 && !locale) return true;
      // Each locale's text may or may not address the user.
      const c = await compiledFor(versionId, m, locale);
      return (channelParts(channel) ?? []).some((p) => c.userParts.has(p.name));
    },
  };
}
