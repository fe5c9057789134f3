import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  DiffChangeSchema,
  TemplateService,
  type TemplateServiceCreateRequest,
  type TemplateServicePreviewRequest,
} from "../../gen/notify/v1/template_service_pb.js";
import type { Logger } from "../log/logger.js";
import type { Db } from "../store/db.js";
import { BUILTIN_VARIABLES } from "./builtins.js";
import { checkKey, checkVersion } from "./checks.js";
import {
  contentsFromPb,
  decodePageToken,
  encodePageToken,
  layoutToPb,
  specFromPb,
  specToPb,
  templateToPb,
  versionToPb,
} from "./convert.js";
import { diffVersions } from "./diff.js";
import { createLayout, getLayout } from "./layouts.js";
import {
  archiveTemplate,
  createTemplate,
  getVersion,
  invalid,
  publishVersion,
  updateTemplate,
  type StoredVersion,
} from "./manage.js";
import { preview, type PreviewSource } from "./preview.js";
import * as store from "./store.js";
import type { TemplateCatalog, UserLookup } from "./types.js";

export interface TemplateServiceDeps {
  /**
   * The catalog Send and the workers use. The handlers read and write MariaDB directly (versions are
   * immutable and resolveForSend reads the current pointer on every call, so nothing needs
   * invalidating); it is part of the deps so the service and Send share one catalog per process.
   */
  catalog: TemplateCatalog;
  db: Db;
  log: Logger;
  /** Real users' data for Preview with user_id; without it such previews report a problem. */
  users?: UserLookup;
  /** Who is calling (API key or admin user name), recorded as created_by. */
  actor?: (ctx: HandlerContext) => string;
}

function pageSize(v: number, field = "page_size"): number {
  if (v === 0) return 50;
  if (v > 200) throw invalid([`${field}: at most 200`]);
  return v;
}

function cursor(token: string): Record<string, unknown> {
  const c = decodePageToken(token);
  if (!c) throw invalid(["page_token: not a token from a previous page"]);
  return c;
}

function requireKey(key: string): void {
  const p = checkKey(key);
  if (p.length > 0) throw invalid(p);
}

function versionMessage(s: StoredVersion) {
  return versionToPb(s.version, { current: s.current, layout: s.layout, contents: s.contents });
}

/** Connect handlers for TemplateService: request <-> domain, nothing more. */
export function createTemplateService(deps: TemplateServiceDeps): ServiceImpl<typeof TemplateService> {
  const { db, log } = deps;
  const actor = (ctx: HandlerContext) => deps.actor?.(ctx) ?? "";

  async function previewSource(req: TemplateServicePreviewRequest): Promise<{ src: PreviewSource; problems: string[] }> {
    if (req.draft) {
      const d = req.draft;
      const contents = contentsFromPb(d.contents);
      const channels = d.channels.length > 0 ? d.channels : ["email"];
      const variables = d.variables.map(specFromPb);
      const problems = checkVersion({
        category: d.category || "transactional",
        channels,
        defaultLocale: d.defaultLocale || "en",
        variables,
        contents,
        hasLayout: d.layout !== "",
      }).map((p) => `draft.${p}`);
      const layout = d.layout ? await store.findLayout(db, d.layout, d.layoutVersion) : undefined;
      if (d.layout && !layout) problems.push(`draft.layout: layout "${d.layout}" not found`);
      return {
        problems,
        src: {
          key: req.key || "draft",
          version: 0,
          category: d.category || "transactional",
          channels,
          defaultLocale: d.defaultLocale || "en",
          variables,
          contents: new Map(contents.map((c) => [c.locale, c.parts])),
          layout,
          checked: true,
        },
      };
    }
    requireKey(req.key);
    const s = await getVersion(db, req.key, req.version);
    const layout = s.version.layoutId ? await store.findLayoutById(db, s.version.layoutId) : undefined;
    return {
      problems: [],
      src: {
        key: s.template.key,
        version: s.version.version,
        category: s.version.category,
        channels: s.version.channels,
        defaultLocale: s.version.defaultLocale,
        variables: s.version.variables,
        contents: s.contents,
        layout,
      },
    };
  }

  return {
    async create(req: TemplateServiceCreateRequest, ctx) {
      const s = await createTemplate(
        db,
        {
          key: req.key,
          name: req.name,
          description: req.description,
          category: req.category,
          channels: req.channels.length > 0 ? req.channels : ["email"],
          defaultLocale: req.defaultLocale || "en",
          variables: req.variables.map(specFromPb),
          contents: contentsFromPb(req.contents),
          layout: req.layout,
          layoutVersion: req.layoutVersion,
          note: req.note,
        },
        actor(ctx),
      );
      log.info({ template: s.template.key, version: s.version.version }, "template created");
      return { template: templateToPb(s.template, s.version), version: versionMessage(s) };
    },

    async update(req, ctx) {
      requireKey(req.key);
      const s = await updateTemplate(
        db,
        {
          key: req.key,
          name: req.name,
          description: req.description,
          category: req.category,
          channels: req.channels,
          defaultLocale: req.defaultLocale,
          variables: req.variables.map(specFromPb),
          contents: contentsFromPb(req.contents),
          layout: req.layout,
          layoutVersion: req.layoutVersion,
          withoutLayout: req.withoutLayout,
          publish: req.publish,
          expectedLatestVersion: req.expectedLatestVersion,
          note: req.note,
        },
        actor(ctx),
      );
      log.info({ template: s.template.key, version: s.version.version, published: s.current }, "template version added");
      const current = s.current ? s.version : (await store.findTemplateVersion(db, req.key, 0))?.version;
      return { template: templateToPb(s.template, current), version: versionMessage(s) };
    },

    async publish(req) {
      requireKey(req.key);
      const r = await publishVersion(db, req.key, req.version);
      log.info({ template: req.key, version: req.version }, "template version published");
      return { template: templateToPb(r.template, r.current) };
    },

    async get(req) {
      requireKey(req.key);
      const s = await getVersion(db, req.key, req.version);
      const current = s.current ? s.version : (await store.findTemplateVersion(db, req.key, 0))?.version;
      return { template: templateToPb(s.template, current), version: versionMessage(s) };
    },

    async list(req) {
      const size = pageSize(req.pageSize);
      const c = cursor(req.pageToken);
      if (req.query.length > 200) throw invalid(["query: longer than 200 characters"]);
      const rows = await store.listTemplates(db, {
        query: req.query,
        afterKey: typeof c.k === "string" ? c.k : "",
        limit: size + 1,
        includeArchived: req.includeArchived,
      });
      const page = rows.slice(0, size);
      return {
        templates: page.map((t) => templateToPb(t, t.current)),
        nextPageToken: rows.length > size ? encodePageToken({ k: page[page.length - 1].key }) : "",
      };
    },

    async listVersions(req) {
      requireKey(req.key);
      const size = pageSize(req.pageSize);
      const c = cursor(req.pageToken);
      const t = await store.findTemplate(db, req.key);
      if (!t) throw new ConnectError(`key: template "${req.key}" not found`, Code.NotFound);
      const rows = await store.listVersions(db, t.id, typeof c.v === "number" ? c.v : 0, size + 1);
      const page = rows.slice(0, size);
      const locales = await store.findLocalesFor(db, page.map((v) => v.id));
      const layoutIds = [...new Set(page.flatMap((v) => (v.layoutId ? [v.layoutId] : [])))];
      const layouts = await store.findLayoutKeys(db, layoutIds);
      return {
        versions: page.map((v) =>
          versionToPb(v, {
            current: v.id === t.currentVersionId,
            layout: v.layoutId ? layouts.get(v.layoutId) : undefined,
            locales: locales.get(v.id) ?? [],
          }),
        ),
        nextPageToken: rows.length > size ? encodePageToken({ v: page[page.length - 1].version }) : "",
      };
    },

    async preview(req) {
      const { src, problems } = await previewSource(req);
      const r = await preview(
        src,
        { locale: req.locale, channel: req.channel, data: req.data, userId: req.userId },
        deps.users,
      );
      return { parts: r.parts, problems: [...problems, ...r.problems], locale: r.locale, version: src.version, data: r.data };
    },

    async diff(req) {
      requireKey(req.key);
      const from = await getVersion(db, req.key, req.fromVersion);
      const to = await getVersion(db, req.key, req.toVersion || from.template.latestVersion);
      const context = req.contextLines === 0 ? 3 : Math.min(req.contextLines, 1000);
      return {
        fromVersion: from.version.version,
        toVersion: to.version.version,
        changes: diffVersions(from, to, context).map((d) => create(DiffChangeSchema, d)),
      };
    },

    async archive(req) {
      requireKey(req.key);
      const r = await archiveTemplate(db, req.key, req.restore);
      log.info({ template: req.key, archived: !req.restore }, "template archive state changed");
      return { template: templateToPb(r.template, r.current) };
    },

    async listBuiltinVariables() {
      return { variables: BUILTIN_VARIABLES.map(specToPb) };
    },

    async createLayout(req, ctx) {
      const l = await createLayout(
        db,
        {
          key: req.key,
          name: req.name,
          description: req.description,
          defaultLocale: req.defaultLocale || "en",
          contents: contentsFromPb(req.contents),
        },
        actor(ctx),
      );
      log.info({ layout: l.key, version: l.version }, "layout version created");
      return { layout: layoutToPb(l) };
    },

    async getLayout(req) {
      return { layout: layoutToPb(await getLayout(db, req.key, req.version)) };
    },

    async listLayouts(req) {
      const size = pageSize(req.pageSize);
      const c = cursor(req.pageToken);
      if (req.query.length > 200) throw invalid(["query: longer than 200 characters"]);
      const rows = await store.listLayouts(db, { query: req.query, afterKey: typeof c.k === "string" ? c.k : "", limit: size + 1 });
      const page = rows.slice(0, size);
      return {
        layouts: page.map(layoutToPb),
        nextPageToken: rows.length > size ? encodePageToken({ k: page[page.length - 1].key }) : "",
      };
    },
  };
}
