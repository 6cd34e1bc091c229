// Starts Swagger UI on the spec this origin serves, with this origin first
// among its servers: "Try it out" calls the API that served the page, with
// the bearer token given under "Authorize".
async function start() {
  const response = await fetch("/openapi.json", { headers: { accept: "application/json" } });
  const spec = await response.json();
  spec.servers = [
    { url: window.location.origin, description: "This server" },
    ...(spec.servers || []).filter((s) => s.url !== window.location.origin),
  ];
  window.ui = SwaggerUIBundle({
    spec,
    dom_id: "#swagger-ui",
    // Deep links put a link inside each operation's button, which screen
    // readers cannot reach (a control within a control).
    deepLinking: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
}

// Swagger UI's server list has no label of its own.
new MutationObserver(() => {
  const servers = document.getElementById("servers");
  if (servers && !servers.hasAttribute("aria-label")) servers.setAttribute("aria-label", "Server");
}).observe(document.body, { childList: true, subtree: true });

window.addEventListener("load", () => {
  start().catch((error) => {
    const main = document.getElementById("swagger-ui");
    main.textContent = "The API description could not be loaded: " + error.message;
  });
});
