// The secworks API docs page: Swagger UI on /openapi.json, started with the settings the page
// holds as data (its swagger-ui-config block). Loaded from docs.html after Swagger UI's bundle.
'use strict';

(function () {
  const config = JSON.parse(document.getElementById('swagger-ui-config').textContent);
  window.ui = SwaggerUIBundle(config);
})();
