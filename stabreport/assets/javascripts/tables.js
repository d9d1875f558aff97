// Wide tables reflow on a phone: each row becomes a small card whose cells carry their column's
// header (CSS in extra.css, below 600 px), so no column hides past the right edge. The table is
// marked with a data attribute, not a class: Material styles only tables without a class, and a
// class would cost every wide table its padding and rules at every width. Each cell's label is a
// copy of its header's rendered content (typeset maths included), hidden on wider screens and
// from screen readers, which read the real header.
document$.subscribe(({ body }) => {
  for (const table of body.querySelectorAll(".md-typeset table")) {
    if (table.hasAttribute("data-reflow")) continue
    const headers = [...table.querySelectorAll("thead th")]
    if (headers.length < 4) continue
    table.setAttribute("data-reflow", "")
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (!headers[i] || !headers[i].textContent.trim()) return
        const label = document.createElement("span")
        label.className = "cell-label"
        label.setAttribute("aria-hidden", "true")
        for (const node of headers[i].childNodes) {
          label.appendChild(node.cloneNode(true))
        }
        const value = document.createElement("span")
        value.className = "cell-value"
        while (cell.firstChild) value.appendChild(cell.firstChild)
        cell.append(label, value)
      })
    }
  }
})
