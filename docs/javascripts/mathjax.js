// MathJax 3, served by this site (assets/mathjax, copied at build time from the docs extra).
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    // an unknown macro is an error (shown as one, and counted), not red text
    packages: {"[-]": ["noundefined"]},
    // every TeX error is recorded, so that a headless check can count them
    formatError: (jax, error) => {
      (window.mathjaxErrors = window.mathjaxErrors || []).push(error.message);
      return jax.formatError(error);
    }
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  }
};

// MathJax typesets the page once it has loaded; this re-typesets a page that the theme
// swaps in without a reload.
document$.subscribe(() => {
  if (window.MathJax && typeof MathJax.typesetPromise === "function") {
    MathJax.startup.output.clearCache()
    MathJax.typesetClear()
    MathJax.texReset()
    MathJax.typesetPromise()
  }
})
