// Client-side search over the prebuilt index of this language (search-index.js, loaded before this file,
// so it also works from file://) with MiniSearch; results are inserted as text only.
(function () {
  "use strict";
  var box = document.getElementById("search-results");
  var query = new URLSearchParams(window.location.search).get("q") || "";
  var input = document.getElementById("site-search");
  if (!box || !window.MiniSearch) { return; }
  input.value = query;
  if (!query.trim()) { box.textContent = ""; return; }
  var documents = window.ENGAGE_SEARCH_INDEX || [];
  (function () {
    var search = new MiniSearch({
      fields: ["title", "kind", "partners", "country", "text"],
      storeFields: ["title", "url", "kind"],
      searchOptions: { prefix: true, fuzzy: 0.2, boost: { title: 2 } }
    });
    search.addAll(documents);
    var results = search.search(query);
    box.textContent = "";
    var heading = document.createElement("p");
    // One pass with a function: the query is inserted as it is (a string replacement would read
    // "$&", "$`" or "$'" in it as patterns) and never searched for placeholders itself.
    var values = { count: String(results.length), query: query };
    heading.textContent = results.length
      ? box.getAttribute(results.length === 1 ? "data-one" : "data-other").replace(/\{(count|query)\}/g, function (_, name) { return values[name]; })
      : box.getAttribute("data-none");
    box.appendChild(heading);
    var list = document.createElement("ol");
    list.className = "items";
    results.slice(0, 100).forEach(function (result) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = result.url;
      link.textContent = result.title;
      var meta = document.createElement("p");
      meta.className = "meta";
      meta.textContent = result.kind;
      item.appendChild(link);
      item.appendChild(meta);
      list.appendChild(item);
    });
    box.appendChild(list);
  })();
})();
