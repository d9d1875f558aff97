// Typeset pymdownx.arithmatex output with the KaTeX copy shipped in this site (no network).
// Material's instant navigation swaps page content without a reload: re-typeset on each page.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true }
    ],
    throwOnError: true
  })
})
