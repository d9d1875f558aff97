// Wide tables reflow on a phone: each row becomes a small card whose cells carry their column's
// header (CSS in extra.css, below 600 px), so no column hides past the right edge. Narrow
// tables, and every table on a wider screen, stay as they are.
document$.subscribe(({ body }) => {
  for (const table of body.querySelectorAll(".md-typeset table")) {
    const headers = [...table.querySelectorAll("thead th")].map(th => th.textContent.trim())
    if (headers.length < 4) continue
    table.classList.add("reflow")
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => { if (headers[i]) cell.dataset.label = headers[i] })
    }
  }
})
