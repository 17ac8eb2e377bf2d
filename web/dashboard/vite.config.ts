// Builds the dashboard into the Python package (server/static/dashboard/), which the API serves at /.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "../../server/static/dashboard",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
  },
});
