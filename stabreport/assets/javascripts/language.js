// The language switcher links the same page in each edition (stabreport's MkDocs plugin);
// this carries the reader's place on it, the #fragment (a figure, a table), across.
document.addEventListener("click", event => {
  const link = event.target.closest && event.target.closest("a.md-select__link[hreflang]");
  if (link && location.hash && !link.hash) {
    event.preventDefault();
    location.href = link.href + location.hash;
  }
});
