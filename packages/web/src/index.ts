// @ssmbench/web: the static site (same generator as docs/), its server, and the browser driving used by its tests.
export { buildSite, siteHref, speedSection, slug, entryAnchors, ortDist, ORT_FILES, type BuildOptions, type BuiltSite, type SiteData } from "./site.ts";
export { serveSite, ISOLATION_HEADERS, type Server } from "./serve.ts";
export { blockDiagram, parseBlock } from "./diagram.ts";
export { findChromium, launchChromium } from "./chromium.ts";
export { takeScreenshots } from "./screenshots.ts";
