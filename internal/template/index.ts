/**
 * The templating system: versioned mustache templates with a variable schema, shared versioned
 * layouts, safe rendering, and the TemplateService handlers.
 */
export type {
  Category,
  PinnedTemplate,
  RenderedMessage,
  TemplateCatalog,
  UserLookup,
  VariableSpec,
  VariableType,
} from "./types.js";
export { CATEGORIES, VARIABLE_TYPES } from "./types.js";
export { createTemplateCatalog, type TemplateCatalogDeps } from "./catalog.js";
export { createTemplateService, type TemplateServiceDeps } from "./service.js";
export {
  CHANNEL_PARTS,
  LAYOUT_PARTS,
  MAX_OUTPUT_BYTES,
  MAX_SOURCE_BYTES,
  channelParts,
  isKnownChannel,
  knownChannels,
  partsOfChannels,
  type PartKind,
  type PartSpec,
} from "./parts.js";
export {
  BUILTIN_VARIABLES,
  PLATFORM_VARIABLES,
  USER_VARIABLES,
  isBuiltinVariable,
  isEnrichmentVariable,
  userToVariables,
} from "./builtins.js";
export { isSafeUrl } from "./schema.js";
export { pickLocale } from "./locale.js";
