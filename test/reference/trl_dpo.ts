/**
 * float64 transcription of TRL 1.x `DPOTrainer._compute_loss` (trl/trainer/dpo_trainer.py, v1.9):
 * the per-sequence loss of every DPO loss type from SUMMED log-probs plus the completion token
 * counts, and the logged metrics rewards/chosen, rewards/rejected, rewards/margins,
 * rewards/accuracies. Reverse-KL scores only (TRL's default f_divergence_type). Written from TRL's
 * source, line by line, never by calling mmpref; naive formulas (moderate test inputs).
 */
export interface TrlBatch {
  /** summed policy / reference log-probs of the chosen and rejected completions */
  pc: number[];
  pr: number[];
  rc: number[];
  rr: number[];
  /** completion_mask.sum(dim=1) of the chosen and rejected rows */
  nc: number[];
  nr: number[];
}

export interface TrlConfig {
  beta: number;
  /** label_smoothing (TRL 0.x replaced exo_pair's 0 by 1e-3; TRL 1.x raises for it) */
  labelSmoothing: number;
  discopopTau: number;
}

const logsig = (x: number) => -Math.log1p(Math.exp(-x));
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const asc = (a: number[]) => [...a].sort((x, y) => x - y);

/** per_sequence_loss of one loss_type */
export function trlLosses(type: string, b: TrlBatch, c: TrlConfig): number[] {
  const { beta } = c;
  const eps = c.labelSmoothing;
  const chosenLogratios = b.pc.map((v, i) => v - b.rc[i]!);
  const rejectedLogratios = b.pr.map((v, i) => v - b.rr[i]!);
  const cs = chosenLogratios; // chosen_scores (reverse_kl)
  const rs = rejectedLogratios;
  const delta = cs.map((v, i) => v - rs[i]!);
  switch (type) {
    case 'sigmoid':
      return delta.map((d) => -logsig(beta * d));
    case 'hinge':
      return delta.map((d) => Math.max(0, 1 - beta * d));
    case 'ipo':
      return cs.map((v, i) => (v / Math.max(b.nc[i]!, 1) - rs[i]! / Math.max(b.nr[i]!, 1) - 1 / (2 * beta)) ** 2);
    case 'exo_pair': {
      const e = eps === 0 ? 1e-3 : eps; // TRL 0.x: `if self.label_smoothing == 0: self.label_smoothing = 1e-3`
      return delta.map((d) => sig(beta * d) * (logsig(beta * d) - Math.log1p(-e)) + sig(-beta * d) * (logsig(-beta * d) - Math.log(e)));
    }
    case 'nca_pair':
      return cs.map((v, i) => -logsig(beta * v) - 0.5 * logsig(-beta * v) - 0.5 * logsig(-beta * rs[i]!));
    case 'robust':
      return delta.map((d) => (-(1 - eps) * logsig(beta * d) - -eps * logsig(-beta * d)) / (1 - 2 * eps));
    case 'bco_pair':
      return cs.map((v, i) => -logsig(beta * v) - logsig(-beta * rs[i]!));
    case 'sppo_hard':
      return cs.map((v, i) => (v - 0.5 / beta) ** 2 + (rs[i]! + 0.5 / beta) ** 2);
    case 'aot': {
      const lr = asc(b.pc.map((v, i) => v - b.pr[i]!));
      const rl = asc(b.rc.map((v, i) => v - b.rr[i]!));
      return lr.map((v, i) => -logsig(beta * (v - rl[i]!)) * (1 - eps) - logsig(-beta * (v - rl[i]!)) * eps);
    }
    case 'aot_unpaired': {
      const cS = asc(chosenLogratios);
      const rS = asc(rejectedLogratios);
      return cS.map((v, i) => -logsig(beta * (v - rS[i]!)) * (1 - eps) - logsig(-beta * (v - rS[i]!)) * eps);
    }
    case 'apo_zero':
      return chosenLogratios.map((v, i) => 1 - sig(beta * v) + sig(beta * rejectedLogratios[i]!));
    case 'apo_down':
      return chosenLogratios.map((v, i) => sig(beta * v) + (1 - sig(beta * delta[i]!)));
    case 'discopop':
      return delta.map((d) => {
        const logits = d * beta;
        const m = sig(logits / c.discopopTau);
        return -logsig(logits) * (1 - m) + Math.exp(-logits) * m;
      });
    case 'sigmoid_norm':
      return cs.map((v, i) => -logsig(beta * (v / Math.max(b.nc[i]!, 1) - rs[i]! / Math.max(b.nr[i]!, 1))));
    default:
      throw new Error(`not a TRL DPOTrainer loss type: ${type}`);
  }
}

/** loss = per_sequence_loss.mean() */
export function trlLoss(type: string, b: TrlBatch, c: TrlConfig): number {
  const l = trlLosses(type, b, c);
  return l.reduce((s, v) => s + v, 0) / l.length;
}

/** The logged reward metrics, per pair (TRL logs their batch means). */
export function trlRewards(b: TrlBatch, beta: number) {
  const chosen = b.pc.map((v, i) => beta * (v - b.rc[i]!));
  const rejected = b.pr.map((v, i) => beta * (v - b.rr[i]!));
  const margins = chosen.map((v, i) => v - rejected[i]!);
  const accuracy = chosen.filter((v, i) => v > rejected[i]!).length / chosen.length;
  return { chosen, rejected, margins, accuracy };
}
