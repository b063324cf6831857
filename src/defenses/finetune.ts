// Clean fine-tuning (CROW's first baseline): the same recipe as crow on the
// same clean records, with the LM loss alone.
import { registerDefense } from './registry.js';
import { lmValue, runTrainingDefense, TRAIN_PARAMS } from './tune.js';

registerDefense({
  name: 'finetune',
  summary: 'clean fine-tuning: LoRA on the clean records with the LM loss alone (CROW\'s recipe without the consistency term)',
  output: 'adapter',
  params: TRAIN_PARAMS,
  run: (input, p) => runTrainingDefense(input, p, { label: 'finetune', value: lmValue }),
});
