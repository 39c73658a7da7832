// Nicer, not needed: keep the scan field focused so a scan gun always types into it.
document.addEventListener("DOMContentLoaded", () => {
  const field = document.getElementById("token");
  if (field && document.getElementById("scan-form")) {
    field.focus();
  }
});
