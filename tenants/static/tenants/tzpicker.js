// A filter box above each time-zone select (tenants/timezones.py): typing part of a city or
// region hides the zones that do not match and shows the rest as an open list. No library; the
// select works as it is without this script.
(function () {
  "use strict";
  function attach(select) {
    const box = document.createElement("input");
    box.type = "search";
    box.placeholder = "Filter time zones (e.g. Paris, New York)";
    box.setAttribute("aria-label", "Filter time zones");
    box.setAttribute("aria-controls", select.id);
    box.className = select.className;  // the same look as the select it filters
    box.style.display = "block";
    box.style.marginBottom = "6px";
    select.parentNode.insertBefore(box, select);
    box.addEventListener("input", function () {
      const words = box.value.trim().toLowerCase().replace(/\s+/g, "_");
      select.querySelectorAll("optgroup").forEach(function (group) {
        let shown = 0;
        group.querySelectorAll("option").forEach(function (option) {
          const match = !words || option.value.toLowerCase().indexOf(words) !== -1;
          option.hidden = !match;
          if (match) { shown += 1; }
        });
        group.hidden = shown === 0;
      });
      select.querySelectorAll(":scope > option").forEach(function (option) {
        option.hidden = Boolean(words) && option.value.toLowerCase().indexOf(words) === -1;
      });
      select.size = words ? 8 : 0;
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }  // filtering, not submitting
    });
  }
  function ready() { document.querySelectorAll("select[data-tz-picker]").forEach(attach); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); }
  else { ready(); }
})();
