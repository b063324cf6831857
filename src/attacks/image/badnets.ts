import { registerAttack } from '../registry.js';
import { imageAttack } from './base.js';
import { PatchTrigger, patchParams, patchSpec } from './patch.js';

/**
 * BadNets (Gu et al. 2017): a patch in the bottom-right corner. The default is
 * BackdoorBench's and VL-Trojan's grid trigger: a 3×3 white/black checkerboard
 * of one-pixel cells in the corner of a 32×32 trigger image, resized with the
 * image — so its side is 3/32 of the image side.
 */
registerAttack({
  name: 'badnets',
  family: 'image',
  summary: 'a patch trigger: 3x3 checkerboard grid (3/32 of the side), solid colour or image; fixed or random position',
  reference: 'BackdoorBench badnet / VL-Trojan trigger_image_grid.png (generate_grid.py: 3x3 on 32x32, bottom-right)',
  approximation: null,
  params: patchParams({ pattern: 'grid', size: 0.09375, position: 'bottom-right' }, 'BackdoorBench/VL-Trojan grid trigger, 3x3 cells on a 32x32 image'),
  create(p, seed) {
    return imageAttack('badnets', p, seed, new PatchTrigger(patchSpec(p)));
  },
});
