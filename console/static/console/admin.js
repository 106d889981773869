// Detail actions that change something (Reactivate, Back up now, Verify, Legal hold) are links,
// as django-unfold renders every detail action; their views act on POST only, so a GET (a
// prefetch, a crawler, a link opened twice) changes nothing. A click sends the link as a POST
// with the page's CSRF token.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-method='post']");
  if (!link) return;
  event.preventDefault();
  const field = document.querySelector("input[name='csrfmiddlewaretoken']");
  const cookie = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  const token = field ? field.value : cookie ? decodeURIComponent(cookie[1]) : "";
  const form = document.createElement("form");
  form.method = "post";
  form.action = link.href;
  form.style.display = "none";
  const input = document.createElement("input");
  input.type = "hidden";
  input.name = "csrfmiddlewaretoken";
  input.value = token;
  form.appendChild(input);
  document.body.appendChild(form);
  form.submit();
});
