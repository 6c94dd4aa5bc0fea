// Behaviour the pages ask for by attribute, since the Content-Security-Policy forbids inline
// handlers: data-confirm="question" asks before a button submits its form; data-autosubmit
// on a select submits its form when the choice changes.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) {
    event.target.form.submit();
  }
});
