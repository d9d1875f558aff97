// Typeset pymdownx.arithmatex output with the KaTeX copy shipped in this site (no network).
// Only the elements arithmatex made hold the site's maths (\( … \) and \[ … \]): text anywhere
// else (a config title or label with "$…$", a translation) is never typeset, whatever it holds.
// Material's instant navigation swaps page content without a reload: re-typeset on each page.
document$.subscribe(({ body }) => {
  // The handout hands over each piece of math itself; the site, the page's body.
  const elements = body.matches(".arithmatex") ? [body] : body.querySelectorAll(".arithmatex")
  for (const element of elements) {
    renderMathInElement(element, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true }
      ],
      throwOnError: false
    })
  }
})
