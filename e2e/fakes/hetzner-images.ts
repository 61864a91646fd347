// The images the fake Hetzner knows, as Hetzner's OpenAPI description has an Image.

// System images and the app images our servers use (Hetzner lists both under /images).
const imageDetails: Record<
  string,
  { id: number; type: "system" | "app"; description: string; osFlavor: string; osVersion: string }
> = {
  "ubuntu-24.04": {
    id: 161547269,
    type: "system",
    description: "Ubuntu 24.04",
    osFlavor: "ubuntu",
    osVersion: "24.04",
  },
  "ubuntu-22.04": {
    id: 67794396,
    type: "system",
    description: "Ubuntu 22.04",
    osFlavor: "ubuntu",
    osVersion: "22.04",
  },
  "debian-12": {
    id: 114690387,
    type: "system",
    description: "Debian 12",
    osFlavor: "debian",
    osVersion: "12",
  },
  "docker-ce": {
    id: 167698513,
    type: "app",
    description: "Docker CE",
    osFlavor: "ubuntu",
    osVersion: "24.04",
  },
};
export const images = Object.keys(imageDetails);

/** An Image as Hetzner's description has it (every required field, nothing invented). */
export function renderImage(name: string) {
  const image = imageDetails[name] ?? imageDetails["ubuntu-24.04"]!;
  return {
    id: image.id,
    type: image.type,
    status: "available",
    name,
    description: image.description,
    image_size: null,
    disk_size: 5,
    created: "2024-04-25T12:00:00+00:00",
    created_from: null,
    bound_to: null,
    os_flavor: image.osFlavor,
    os_version: image.osVersion,
    rapid_deploy: true,
    protection: { delete: false },
    deprecated: null,
    deleted: null,
    labels: {},
  };
}
