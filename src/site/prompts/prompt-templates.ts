/** Fill `{class}` and `{caption}` in a study template. Braces in values are kept literally. */
export function fillTemplate(template: string, values: { class: string; caption?: string }): string {
  return template.replace(/\{(class|caption)\}/g, (_, key: 'class' | 'caption') => values[key] ?? '').replace(/\s+/g, ' ').trim();
}

/** Class-level prompts: every study template for one class (the paper's default is one template). */
export function classPrompts(templates: readonly string[], className: string): string[] {
  return templates.map((t) => fillTemplate(t, { class: className }));
}
