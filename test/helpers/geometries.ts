/** A self-intersecting "bow-tie" polygon: PostGIS says `Self-intersection[5 5]`. */
export const BOW_TIE = {
  type: 'Polygon',
  coordinates: [
    [
      [0, 0],
      [10, 10],
      [10, 0],
      [0, 10],
      [0, 0],
    ],
  ],
};
