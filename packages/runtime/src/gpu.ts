// What to tell a user whose GPU execution provider cannot start: the likely missing piece and how to add it.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Is the Vulkan loader (libvulkan.so.1) installed? onnxruntime-node's WebGPU EP (Dawn) needs it on Linux. */
export function vulkanLoaderPresent(): boolean {
  try {
    if (/\blibvulkan\.so\.1\b/.test(execFileSync("ldconfig", ["-p"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))) return true;
  } catch {
    // no ldconfig on PATH (non-root shells on some distributions): look in the usual folders
  }
  return ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"].some((d) => existsSync(`${d}/libvulkan.so.1`));
}

/**
 * Why onnxruntime-node's WebGPU EP found no adapter, and the way out. Dawn runs on Vulkan (Linux), Metal (macOS) or
 * D3D12 (Windows); on Linux both the Vulkan loader and a Vulkan driver for the GPU must be installed.
 */
export function webgpuAdvice(platform: NodeJS.Platform = process.platform, loader: () => boolean = vulkanLoaderPresent): string {
  const fallback = "or use --ep cpu / wasm";
  if (platform !== "linux") return `WebGPU in Node needs a GPU with a ${platform === "darwin" ? "Metal" : "D3D12 or Vulkan"} driver; ${fallback}`;
  if (!loader()) {
    return `libvulkan.so.1 (the Vulkan loader) is not installed, so Dawn has no Vulkan: install it and the GPU's Vulkan driver (Debian/Ubuntu: apt-get install libvulkan1, plus the NVIDIA driver's Vulkan ICD or mesa-vulkan-drivers), check with vulkaninfo --summary; ${fallback}`;
  }
  return `the Vulkan loader is installed but no GPU answered: install the GPU's Vulkan driver (the NVIDIA driver's Vulkan ICD, or mesa-vulkan-drivers), and in a container expose the GPU with its graphics capability (NVIDIA_DRIVER_CAPABILITIES=all); vulkaninfo --summary lists the devices; ${fallback}`;
}
