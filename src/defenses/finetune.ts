// Clean fine-tuning (CROW's first baseline): the same recipe as crow on the
// same clean records, with the LM loss alone.
import { lmValue } from './common.js';
import { registerTrainingDefense } from './tune.js';

registerTrainingDefense({
  name: 'finetune',
  summary: "clean fine-tuning: LoRA on the clean records with the LM loss alone (CROW's recipe without the consistency term)",
  params: [],
  extraKeys: {},
  make: () => ({ label: 'finetune', value: lmValue }),
});
