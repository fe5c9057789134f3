import { describe, expect, it } from "vitest";
import { BUILTIN_VARIABLES } from "./builtins.js";
import { checkLayout, checkVersion } from "./checks.js";
import { compileLocale, renderChannel } from "./compose.js";
import { checkTokens, parseSource } from "./compile.js";
import { pickLocale } from "./locale.js";
import { buildTree, checkData, checkDeclarations, isSafeUrl, sampleData } from "./schema.js";
import type { VariableSpec } from "./types.js";

const vars: VariableSpec[] = [
  { name: "film_title", type: "string", required: true, sample: "Dune" },
  { name: "count", type: "number", required: true, sample: 3 },
  { name: "link", type: "url", required: false, sample: "https://cinema.example/x" },
  { name: "films", type: "list", required: false },
  { name: "films.title", type: "string", required: true },
  { name: "films.url", type: "url", required: false },
];

function email(parts: Record<string, string>, data: Record<string, unknown>, layout?: Record<string, string>) {
  const c = compileLocale({
    key: "t",
    version: 1,
    locale: "en",
    channels: ["email"],
    variables: vars,
    parts,
    layout: layout ? { defaultLocale: "en", contents: { en: layout } } : undefined,
  });
  return renderChannel(c, "email", data).parts;
}

describe("syntax errors", () => {
  it("reports an unclosed tag at the tag's line and column", () => {
    const r = parseSource("Hello {{name");
    expect(r.problem).toEqual({ line: 1, column: 7, message: "Unclosed tag" });
  });

  it("points at the start of an unclosed triple mustache", () => {
    expect(parseSource("ab\nHello {{{name}}").problem).toEqual({ line: 2, column: 7, message: "Unclosed tag" });
  });

  it("reports an unclosed section where it opens, on a later line", () => {
    const r = parseSource("line one\n  {{#films}}\n  {{title}}\n");
    expect(r.problem).toMatchObject({ line: 2, column: 3, message: 'Unclosed section "films"' });
  });

  it("names the field path in version checks", () => {
    const problems = checkVersion({
      category: "transactional",
      channels: ["email"],
      defaultLocale: "en",
      variables: vars,
      contents: [{ locale: "en", parts: { subject: "Hello {{film_title", html: "<p>x</p>", text: "x" } }],
      hasLayout: false,
    });
    expect(problems).toEqual(["contents[0].parts.subject: line 1, column 7: Unclosed tag"]);
  });
});

describe("undeclared variables", () => {
  const tree = buildTree([...BUILTIN_VARIABLES, ...vars]);
  const check = (src: string) => checkTokens(src, parseSource(src).tokens!, tree, { kind: "text" }).problems;

  it("accepts declared, built-in, section-relative and dotted names", () => {
    expect(check("{{film_title}} {{user.name}} {{#films}}{{title}} {{url}} {{count}}{{/films}} {{unsubscribe_url}}")).toEqual([]);
    expect(check("{{#user.favourite_genres}}{{.}}{{/user.favourite_genres}}")).toEqual([]);
  });

  it("rejects undeclared names, also inside sections and dotted ones", () => {
    expect(check("{{nope}}")).toEqual([{ line: 1, column: 1, message: 'undeclared variable "nope"' }]);
    expect(check("{{#films}}\n{{year}}{{/films}}")).toEqual([{ line: 2, column: 1, message: 'undeclared variable "year"' }]);
    expect(check("{{user.password}}").map((p) => p.message)).toEqual(['undeclared variable "user.password"']);
    expect(check("{{#nothing}}x{{/nothing}}").map((p) => p.message)).toEqual(['undeclared variable "nothing"']);
    expect(check("{{constructor}} {{films.__proto__}}")).toHaveLength(2);
  });

  it("refuses partials, delimiter changes and unescaped html output", () => {
    expect(check("{{> header}}")[0].message).toMatch(/partials are not supported/);
    expect(check("{{=<% %>=}}")[0].message).toMatch(/delimiters/);
    const src = "<p>{{{film_title}}}</p>";
    const html = checkTokens(src, parseSource(src).tokens!, tree, { kind: "html" }).problems;
    expect(html[0].message).toMatch(/unescaped output of "film_title" is not allowed in html/);
  });

  it("checks declarations: names, duplicates, built-ins, sample types", () => {
    const p = checkDeclarations(
      [
        { name: "a b", type: "string", required: false },
        { name: "x", type: "string", required: false },
        { name: "x", type: "number", required: false },
        { name: "user.name", type: "string", required: false },
        { name: "n", type: "number", required: false, sample: "three" },
        { name: "__proto__", type: "string", required: false },
      ],
      (n) => n.startsWith("user."),
    );
    expect(p).toEqual([
      'variables[0].name: "a b" is not a valid variable name (letters, digits, _ and dots)',
      'variables[2].name: "x" is declared twice',
      'variables[3].name: "user.name" is built in and cannot be redeclared',
      'variables[5].name: "__proto__" is not a valid variable name (letters, digits, _ and dots)',
    ]);
    const s = checkDeclarations([{ name: "n", type: "number", required: false, sample: "three" }], () => false);
    expect(s).toEqual(["variables[0].sample: expected number, got string"]);
  });
});

describe("data checks", () => {
  const tree = buildTree([...BUILTIN_VARIABLES, ...vars]);
  it("reports missing, wrongly typed and unsafe values with their path", () => {
    const p = checkData(
      tree,
      { count: "3", link: "javascript:alert(1)", films: [{ title: "A" }, { url: "https://x.example" }, 7] },
      "data",
      { skipEnrichment: true },
    );
    expect(p).toEqual([
      "data.film_title: required variable missing",
      "data.count: expected number, got string",
      "data.link: expected an absolute http(s) URL",
      "data.films[1].title: required variable missing",
      "data.films[2]: expected object, got number",
    ]);
  });

  it("does not check user.* when enrichment fills it", () => {
    const ok = { film_title: "x", count: 1, user: "not an object" };
    expect(checkData(tree, ok, "data", { skipEnrichment: true })).toEqual([]);
    expect(checkData(tree, ok, "data")).toEqual(["data.user: expected object, got string"]);
  });

  it("accepts only absolute http(s) URLs", () => {
    expect(isSafeUrl("https://cinema.example/a?b=c")).toBe(true);
    for (const bad of ["javascript:alert(1)", "JAVASCRIPT:alert(1)", " https://x", "java\tscript:x", "//x.example", "data:text/html,x", "http://"]) {
      expect(isSafeUrl(bad), bad).toBe(false);
    }
  });

  it("builds sample data, children filling their parent", () => {
    expect(sampleData([...vars, { name: "meta", type: "object", required: false }, { name: "meta.a", type: "number", required: false, sample: 1 }])).toEqual({
      film_title: "Dune",
      count: 3,
      link: "https://cinema.example/x",
      meta: { a: 1 },
    });
  });
});

describe("safe rendering", () => {
  it("escapes html, not text or subject, and strips CR/LF from the subject", () => {
    const out = email(
      { subject: "Re: {{film_title}}", html: "<p>{{film_title}}</p>", text: "{{film_title}}" },
      { film_title: "<b>Tom & Jerry</b>\r\nBcc: evil@example.com" },
    );
    expect(email({ subject: "{{film_title}}", html: "h", text: "t" }, { film_title: "a\u2028b\nc" }).subject).toBe("a b c");
    expect(out.subject).toBe("Re: <b>Tom & Jerry</b> Bcc: evil@example.com");
    expect(out.subject).not.toMatch(/[\r\n]/);
    expect(out.html).toBe("<p>&lt;b&gt;Tom &amp; Jerry&lt;&#x2F;b&gt;\r\nBcc: evil@example.com</p>");
    expect(out.text).toBe("<b>Tom & Jerry</b>\r\nBcc: evil@example.com");
  });

  it("neutralises non-http(s) URLs at render", () => {
    const out = email(
      { subject: "s", html: '{{#link}}<a href="{{link}}">go</a>{{/link}}|{{#films}}<a href="{{url}}">{{title}}</a>{{/films}}', text: "{{link}}" },
      { link: "javascript:alert(1)", films: [{ title: "A", url: "javascript:alert(2)" }, { title: "B", url: "https://b.example/" }] },
    );
    expect(out.html).not.toContain("javascript");
    expect(out.html).toBe('|<a href="">A</a><a href="https:&#x2F;&#x2F;b.example&#x2F;">B</a>');
    expect(out.text).toBe("");
  });

  it("never reaches prototype properties", () => {
    const data = JSON.parse('{"film_title": "ok", "__proto__": {"polluted": "yes"}, "films": [{"title": "t", "constructor": "c"}]}');
    const tree = buildTree([...vars, { name: "meta", type: "object", required: false }]);
    // Checked sources cannot name these, so render raw tokens as a template author could never write them.
    const c = compileLocale({
      key: "t",
      version: 1,
      locale: "en",
      channels: ["email"],
      variables: [...vars, { name: "meta", type: "object", required: false }],
      parts: {
        subject: "{{constructor}}|{{toString}}|{{__proto__}}|{{polluted}}|{{films.constructor}}|{{meta.constructor}}|{{film_title.length}}",
        html: "{{#films}}{{constructor}}{{hasOwnProperty}}{{/films}}{{#constructor}}leak{{/constructor}}",
        text: "{{films.length}} {{film_title}}",
      },
    });
    expect(tree.children.has("meta")).toBe(true);
    const out = renderChannel(c, "email", { ...data, meta: {} }).parts;
    expect(out.subject).toBe("||||||");
    expect(out.html).toBe("");
    expect(out.text).toBe("1 ok");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("applies the layout with the unsubscribe link only when given", () => {
    const layout = {
      html: "<html><title>{{subject}}</title>{{{content}}}<footer>12 Tverskaya St{{#unsubscribe_url}} <a href=\"{{unsubscribe_url}}\">Unsubscribe</a>{{/unsubscribe_url}}</footer></html>",
      text: "{{{content}}}\n--\n12 Tverskaya St{{#unsubscribe_url}}\nUnsubscribe: {{unsubscribe_url}}{{/unsubscribe_url}}",
    };
    const parts = { subject: "About {{film_title}}", html: "<p>{{film_title}}</p>", text: "{{film_title}}" };
    const marketing = email(parts, { film_title: "A<B", unsubscribe_url: "https://c.example/u/t" }, layout);
    expect(marketing.html).toBe(
      '<html><title>About A&lt;B</title><p>A&lt;B</p><footer>12 Tverskaya St <a href="https:&#x2F;&#x2F;c.example&#x2F;u&#x2F;t">Unsubscribe</a></footer></html>',
    );
    expect(marketing.text).toBe("A<B\n--\n12 Tverskaya St\nUnsubscribe: https://c.example/u/t");
    const transactional = email(parts, { film_title: "A" }, layout);
    expect(transactional.html).not.toContain("Unsubscribe");
    expect(transactional.text).toBe("A\n--\n12 Tverskaya St");
  });

  it("caps output size and work", () => {
    const big = "x".repeat(300_000);
    expect(() => email({ subject: "s", html: "{{film_title}}{{film_title}}{{film_title}}{{film_title}}", text: "t" }, { film_title: big })).toThrow(
      /parts.html: rendered output exceeds 1048576 bytes/,
    );
    const films = Array.from({ length: 2000 }, () => ({ title: "" }));
    expect(() => email({ subject: "s", html: "{{#films}}{{#films}}{{title}}{{/films}}{{/films}}", text: "t" }, { films })).toThrow(
      /too much work/,
    );
  });

  it("refuses sources over 256 KiB", () => {
    const r = parseSource("x".repeat(256 * 1024 + 1));
    expect(r.problem?.message).toBe("source exceeds 262144 bytes");
  });
});

describe("layouts and locales", () => {
  it("requires {{{content}}} in the layout html", () => {
    const p = checkLayout({
      key: "l",
      defaultLocale: "en",
      contents: [{ locale: "en", parts: { html: "<div>{{content}}</div>", text: "{{film_title}}" } }],
    });
    expect(p).toEqual([
      "contents[0].parts.html: use {{{content}}}, not {{content}} (the content is already escaped html)",
      'contents[0].parts.text: line 1, column 1: undeclared variable "film_title"',
      "contents[0].parts.text: must contain {{{content}}}",
    ]);
  });

  it("picks the requested locale, its language, then the default", () => {
    expect(pickLocale("ru", ["en", "ru"], "en")).toBe("ru");
    expect(pickLocale("ru-RU", ["en", "ru"], "en")).toBe("ru");
    expect(pickLocale("de", ["en", "ru"], "en")).toBe("en");
    expect(pickLocale(undefined, ["en", "ru"], "ru")).toBe("ru");
  });
});
