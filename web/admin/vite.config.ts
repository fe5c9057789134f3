import { defineConfig } from "vite";

// The admin panel, served by notifyd at /admin/. No React plugin: JSX goes through Vite's own
// transform (automatic runtime), and the panel needs no fast refresh to be built.
export default defineConfig({
  root: import.meta.dirname,
  base: "/admin/",
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npx vite web/admin` during development: API calls go to a local notifyd.
    proxy: { "^/(notify\\.v1|readyz)": "http://127.0.0.1:8080" },
  },
});
