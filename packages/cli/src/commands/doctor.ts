/** `dalm doctor`: which engine this machine runs on, and why. */
import { Command } from 'commander';
import {
  engineInfo,
  initEngine,
  formatNumber,
  onnxRuntimeInfo,
  type EngineInfo,
  type OnnxRuntimeInfo,
} from '@dalm/core';
import { engineOption, type GlobalOptions } from '../global';
import os from 'node:os';

/** The line saying where inference runs (ONNX Runtime when installed) and with how many threads. */
export function formatRuntimeInfo(ort: OnnxRuntimeInfo): string {
  return ort.available
    ? `inference    onnx: ONNX Runtime ${ort.version ?? '?'} (onnxruntime-node, cpu), ${ort.threads} intra-op threads; training on tfjs (--runtime tfjs to embed/generate on tfjs too)`
    : `inference    tfjs (ONNX Runtime unavailable: ${ort.reason}); install onnxruntime-node for faster inference`;
}

export function formatEngineInfo(info: EngineInfo): string {
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const lines = [
    `backend      ${info.backend} (tfjs backend "${info.tfBackend}", requested ${info.requested} by ${info.requestedBy})`,
    `tfjs         ${info.tfjsVersion}`,
    `gpu          ${info.native?.usingGpu ? 'yes (CUDA through tfjs-node-gpu)' : info.backend === 'webgpu' ? 'yes (WebGPU)' : 'no GPU in use'}`,
  ];
  if (info.native) lines.push(`tensorflow   ${info.native.tensorflowVersion ?? 'unknown'} (${info.native.module})`);
  if (info.webgpu) {
    const a = info.webgpu.adapter;
    lines.push(
      `webgpu       ${[a.vendor, a.device, a.description].filter(Boolean).join(' / ') || 'adapter'} (feature level ${info.webgpu.featureLevel}, max buffer ${mb(info.webgpu.maxBufferSize)})`,
    );
  }
  if (info.wasm) {
    lines.push(
      `wasm         simd ${info.wasm.simd ?? '?'}, multithreading ${info.wasm.multithreading ?? '?'}, threads ${info.wasm.threads ?? '?'}`,
    );
  }
  lines.push(`threads      ${os.cpus().length} CPU cores`);
  if (info.memory.process) {
    lines.push(
      `memory       rss ${mb(info.memory.process.rss)}, system ${mb(os.totalmem())} total / ${mb(os.freemem())} free`,
    );
  }
  lines.push(`tensors      ${info.memory.tf.numTensors} (${formatNumber(info.memory.tf.numBytes / 2 ** 20)} MiB)`);
  if (info.fixes.length) lines.push(`engine fixes ${info.fixes.join(', ')}`);
  lines.push('candidates:');
  for (const c of info.candidates)
    lines.push(
      `  ${c.status === 'selected' ? '*' : '-'} ${c.backend.padEnd(15)} ${c.status}${c.reason ? `: ${c.reason}` : ''}`,
    );
  for (const n of info.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description(
      'show which tensor backend and inference runtime are in use, whether a GPU is visible, threads and memory',
    )
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nExamples:\n  dalm doctor\n  dalm doctor --backend cpu --json\n  DALM_BACKEND=wasm dalm doctor',
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals() as GlobalOptions;
      await initEngine({ backend: engineOption(g) });
      const info = engineInfo();
      const ort = await onnxRuntimeInfo();
      const inference = { runtime: ort.available ? 'onnx' : 'tfjs', onnxRuntime: ort };
      process.stdout.write(
        opts.json
          ? JSON.stringify({ ...info, inference }, null, 2) + '\n'
          : `${formatEngineInfo(info)}\n${formatRuntimeInfo(ort)}\n`,
      );
    });
}
