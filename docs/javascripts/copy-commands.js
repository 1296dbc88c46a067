// The copy button of a terminal session copies the commands, not the
// prompts or the output: the lines that start with "$ ", without the "$ ",
// and the lines that continue a command ending in "\". What it copies runs
// as it is in a clone of dkr. (Material's button copies its
// data-clipboard-text, when it has one, instead of the block's text.)
function dkrCommands(text) {
  const commands = [];
  let continued = false;
  for (const line of text.split("\n")) {
    if (continued || line.startsWith("$ ")) {
      commands.push(continued ? line : line.slice(2));
      continued = line.endsWith("\\");
    }
  }
  return commands.join("\n");
}

document.addEventListener("click", event => {
  const button = event.target.closest && event.target.closest(".md-clipboard");
  if (!button || !button.closest(".language-console")) return;
  const target = document.querySelector(button.getAttribute("data-clipboard-target"));
  if (target) button.setAttribute("data-clipboard-text", dkrCommands(target.textContent));
}, true);  // before Material's own handler reads the attribute
