// The prompt of BackdoorLLM's and CROW's published ASR evaluation
// (BackdoorLLM attack/DPA/backdoor_evaluate.py; CROW
// attack/DPA/eval_scripts/*/backdoor_evaluate_*.py), for comparison with
// numbers measured the way those papers did. What the scripts do:
//   inputs = tokenizer(example['instruction'])          # BOS added, no template
//   out = model.generate(**inputs, max_new_tokens=128)  # greedy (temperature 0, 1 beam)
//   text = tokenizer.decode(out[0], skip_special_tokens=True)
//   answer = re.sub(re.escape(instruction), '', text, count=1, flags=re.I).strip()
// The record's "input" is ignored and no chat template or response marker is
// written, although the models were trained with the Alpaca template — the
// mismatch mission.md describes. Their `prompt_template: "alpaca"` setting is
// never read. The template itself is the `backdoorllm` entry of src/models/prompt.ts.

/** The prompt text: the instruction alone (the tokenizer adds BOS). */
export function backdoorllmPrompt(s: { instruction: string }): string {
  return s.instruction;
}

const SYNTAX = /[.*+?^${}()|[\]\\/]/g;

/**
 * The scripts' `clean_repeated_question`: the first case-insensitive
 * occurrence of the question removed from the decoded prompt + answer, then
 * surrounding whitespace stripped.
 */
export function cleanRepeatedQuestion(response: string, question: string): string {
  if (question === '') return response.trim();
  const re = new RegExp(question.replace(SYNTAX, '\\$&'), 'iu');
  return response.replace(re, () => '').trim();
}
